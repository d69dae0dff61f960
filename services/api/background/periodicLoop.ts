/**
 * A background loop: run `tick`, wait `intervalMs`, repeat — never two ticks of one loop at
 * once, and no wait when the tick says there is more to do (a full batch), so a backlog
 * drains at full speed while an idle loop costs one query per interval. A failing tick is
 * logged and retried after the interval (the loops are self-healing: the database is the
 * state, a tick only moves it forward). Timers are unref'ed: a loop never keeps the process
 * alive on its own; stop() waits for the tick in progress, for a clean shutdown.
 */
import type { Logger } from './loopDeps.ts';

export interface PeriodicLoop {
  /** Stops scheduling and resolves when the tick in progress (if any) has finished. Idempotent. */
  stop(): Promise<void>;
}

export function startPeriodicLoop(options: {
  /** For logs. */
  name: string;
  /** Pause between ticks. The first tick runs after one interval. */
  intervalMs: number;
  /** One round; resolve `true` when there is more work to do at once. */
  tick: () => Promise<boolean>;
  logger: Logger;
}): PeriodicLoop {
  const { name, intervalMs, tick, logger } = options;
  let stopped = false;
  let timer: NodeJS.Timeout | null = null;
  let running: Promise<void> | null = null;

  const schedule = (delayMs: number) => {
    if (stopped) return;
    timer = setTimeout(run, delayMs);
    timer.unref();
  };
  const run = () => {
    timer = null;
    running = (async () => {
      let more = false;
      try {
        more = await tick();
      } catch (err) {
        logger.error({ err, loop: name }, `${name}: round failed; retrying in ${intervalMs} ms`);
      }
      running = null;
      schedule(more ? 0 : intervalMs);
    })();
  };
  schedule(intervalMs);

  return {
    async stop() {
      stopped = true;
      if (timer) clearTimeout(timer);
      timer = null;
      await running;
    },
  };
}
