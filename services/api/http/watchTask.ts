/**
 * Following one task to its end without a polling loop (sync, binary and SSE answers).
 *
 * 1. Subscribe to the task's events on the bus (`afterSeq` replays what was already
 *    published, so a worker that started before we subscribed loses us nothing).
 * 2. THEN read the row once: if it is already terminal (the task ended before we
 *    subscribed, and its events aged out of the bus) we are done without waiting.
 * 3. Otherwise the terminal event ends the watch. Because JetStream may lose an
 *    acknowledged message (reliability.md B2), a slow safety timer re-reads the row every
 *    `recheckMs` (default 30 s) — a watchdog, not a poll: the bus is the signal.
 *
 * Events are handed to `onEvent` one at a time, in seq order (the callback may be async).
 * `stop()` unsubscribes; stopping (a client that went away) never touches the task.
 */
import type { EventBus, TaskStore } from '../../core/ports.ts';
import { isTerminalEvent, type TaskEventEnvelope } from '../../core/task/taskEvents.ts';
import type { Task } from '../../core/task/taskRecord.ts';
import { isTerminal } from '../../core/task/taskStatus.ts';

export interface WatchOptions {
  /** Replay events after this seq first (0 = all retained). Default 0. */
  afterSeq?: number;
  /** Safety re-read period. Default 30 000 ms. */
  recheckMs?: number;
  onEvent?: (envelope: TaskEventEnvelope) => void | Promise<void>;
}

export interface WatchOutcome {
  /** The terminal row (re-read after the terminal event). */
  task: Task;
  /** The terminal envelope when the bus delivered it; absent when the row said so first. */
  terminal?: TaskEventEnvelope;
}

export interface TaskWatch {
  /** Resolves when the task is terminal; rejects if it disappears (deleted) or the store fails. */
  readonly done: Promise<WatchOutcome>;
  stop(): Promise<void>;
}

export function watchTask(deps: { store: TaskStore; events: EventBus }, taskId: string, options: WatchOptions = {}): TaskWatch {
  const { store, events } = deps;
  let settled = false;
  let unsubscribe: (() => Promise<void>) | null = null;
  let timer: NodeJS.Timeout | null = null;
  let chain: Promise<void> = Promise.resolve();
  // Highest seq handed on: replay and the live subscription may both deliver an event.
  let lastSeq = options.afterSeq ?? 0;
  let resolveDone!: (o: WatchOutcome) => void;
  let rejectDone!: (e: unknown) => void;
  const done = new Promise<WatchOutcome>((resolve, reject) => {
    resolveDone = resolve;
    rejectDone = reject;
  });
  done.catch(() => {});

  const cleanup = async () => {
    if (timer) clearInterval(timer);
    timer = null;
    const u = unsubscribe;
    unsubscribe = null;
    if (u) await u().catch(() => {});
  };
  const settle = (outcome: WatchOutcome | { error: unknown }) => {
    if (settled) return;
    settled = true;
    void cleanup();
    if ('error' in outcome) rejectDone(outcome.error);
    else resolveDone(outcome);
  };
  const finishFromRow = async (terminal?: TaskEventEnvelope) => {
    try {
      const task = await store.get(taskId);
      if (!task) settle({ error: new Error(`task ${taskId} was deleted`) });
      else if (isTerminal(task.status)) settle({ task, terminal });
      else if (terminal) {
        // The event can only follow the fenced update (ARCHITECTURE step 4); a row that is not
        // terminal yet means a replica read before its commit became visible: read again.
        setTimeout(() => void finishFromRow(terminal), 50);
      }
    } catch (error) {
      settle({ error });
    }
  };

  const onEnvelope = (envelope: TaskEventEnvelope) => {
    chain = chain.then(async () => {
      if (settled || envelope.seq <= lastSeq) return;
      lastSeq = envelope.seq;
      try {
        await options.onEvent?.(envelope);
      } catch {
        /* a failing consumer (closed socket) must not stop the watch */
      }
      if (isTerminalEvent(envelope.event)) await finishFromRow(envelope);
    });
  };

  void (async () => {
    try {
      const u = await events.subscribe(taskId, onEnvelope, { afterSeq: options.afterSeq ?? 0 });
      if (settled) {
        await u().catch(() => {});
        return;
      }
      unsubscribe = u;
      timer = setInterval(() => void chain.then(() => (settled ? undefined : finishFromRow())), options.recheckMs ?? 30_000);
      timer.unref();
      // Re-check once after subscribing: the task may have ended before we listened. A bus
      // that delivers its replay asynchronously (JetStream) may not have handed on the stored
      // events yet, so a terminal row first drains them with an explicit replay.
      await chain;
      if (!settled) {
        const row = await store.get(taskId);
        if (row && isTerminal(row.status)) {
          for (const e of await events.replay(taskId, lastSeq)) onEnvelope(e);
          await chain;
        }
        if (!settled) await finishFromRow();
      }
    } catch (error) {
      settle({ error });
    }
  })();

  return {
    done,
    async stop() {
      settled = true;
      await cleanup();
    },
  };
}
