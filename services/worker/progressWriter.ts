// Throttled progress writes to the task row (what `/tasks/{id}` shows) plus the JetStream
// `working()` that goes with them.
//
// A sampling step can take 20 ms on a GPU at small sizes; writing every step would make the
// database the bottleneck. So at most one write per `intervalMs` (default 250 ms), the latest
// value wins, and the LAST value is always written (a trailing write is scheduled, and
// flush() writes what is pending), so the row never lags behind the final step. Writes never
// overlap. A preview, once seen, is kept for the next write even if later ticks carry none.
// Each write is fenced (updateProgress returns false when this attempt lost the task), which
// is reported through onLeaseLost so the run can stop within a tick (B6).
import type { Logger } from 'pino';
import type { DispatchMessage, TaskStore } from '../core/ports.ts';
import type { TaskProgress } from '../core/task/taskRecord.ts';

export interface ProgressWriterOptions {
  store: Pick<TaskStore, 'updateProgress'>;
  message: Pick<DispatchMessage, 'working'>;
  taskId: string;
  attempt: number;
  /** Default 250 ms. */
  intervalMs?: number;
  now: () => number;
  onLeaseLost: () => void;
  logger: Logger;
}

export class ProgressWriter {
  private pending: { progress: TaskProgress; preview?: string } | null = null;
  private writing: Promise<void> | null = null;
  private timer: NodeJS.Timeout | null = null;
  private lastWriteAt = -Infinity;
  private closed = false;
  private readonly intervalMs: number;

  constructor(private readonly options: ProgressWriterOptions) {
    this.intervalMs = options.intervalMs ?? 250;
  }

  /** Records the latest progress; written now or at the end of the current interval. */
  report(progress: TaskProgress, preview?: string): void {
    if (this.closed) return;
    this.pending = { progress, preview: preview ?? this.pending?.preview };
    this.kick();
  }

  /** Writes whatever is pending, waiting for an in-flight write first. */
  async flush(): Promise<void> {
    this.clearTimer();
    if (this.writing) await this.writing;
    if (this.pending) this.writeNow();
    if (this.writing) await this.writing;
  }

  /** Drops pending values and stops writing (the attempt is over). */
  async close(): Promise<void> {
    this.closed = true;
    this.pending = null;
    this.clearTimer();
    if (this.writing) await this.writing;
  }

  private kick(): void {
    if (this.timer || this.writing || !this.pending) return;
    const wait = this.lastWriteAt + this.intervalMs - this.options.now();
    if (wait <= 0) {
      this.writeNow();
      return;
    }
    this.timer = setTimeout(() => {
      this.timer = null;
      this.kick();
    }, wait);
  }

  private writeNow(): void {
    const entry = this.pending;
    if (!entry) return;
    this.pending = null;
    this.lastWriteAt = this.options.now();
    const { store, message, taskId, attempt, logger } = this.options;
    this.writing = (async () => {
      try {
        const owned = await store.updateProgress(taskId, attempt, entry.progress, entry.preview);
        if (!owned) this.options.onLeaseLost();
      } catch (err) {
        logger.warn({ err }, 'progress write failed (continuing)');
      }
      await message.working().catch((err) => logger.warn({ err }, 'working() failed'));
    })().finally(() => {
      this.writing = null;
      if (!this.closed) this.kick();
    });
  }

  private clearTimer(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
  }
}
