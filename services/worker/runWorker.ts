// The worker's consume loop: one task at a time per engine (one per GPU), ARCHITECTURE.md
// "A task's life" steps 3–4. The loop itself is small; taskAttempt.ts holds one attempt.
//
//   fetch (Dispatcher.consume, one in flight) → fenced claim → not claimed: ack, run nothing
//   (already running elsewhere, canceled, finished or deleted; I2) → claimed: TaskAttempt.
//
// A claim that throws (Postgres unreachable) propagates, so the dispatcher naks the message
// with a delay: a worker never runs a task it could not fence (fault case 9).
//
// Control (stop/skip) arrives on the event bus for "the running task" (taskId null,
// FooocusAPI) or a named one; it is applied to this worker's current attempt when it matches.
//
// Shutdown (`stop({ graceMs })`, SIGTERM): stop fetching at once; let the current attempt
// finish within graceMs; past that, abort it and release the task with a fresh dispatch so
// another worker takes it; resolve when the loop has returned. (reliability.md fault case 2:
// no task lost, and releasing does not spend a delivery.)
import type { Logger } from 'pino';
import pino from 'pino';
import { Registry } from 'prom-client';
import type { BlobStore, Dispatcher, DispatchMessage, DispatchSubscription, EventBus, TaskStore, Unsubscribe } from '../core/ports.ts';
import { defaultCacheDir } from '../engine/engine.ts';
import { ModelStore } from '../infra/models/modelStore.ts';
import { wildcardsDir, type WorkerConfig } from './config.ts';
import { TaskAttempt, type Clock, type ImageEngine } from './taskAttempt.ts';
import { createWorkerMetrics } from './workerMetrics.ts';

export type { Clock, ImageEngine } from './taskAttempt.ts';

export interface RunWorkerOptions {
  store: TaskStore;
  dispatcher: Dispatcher;
  events: EventBus;
  blobs: BlobStore;
  /** EngineHost, or anything with its generate signature. */
  engine: ImageEngine;
  config: Pick<WorkerConfig, 'WORKER_ID' | 'MODELS_DIR' | 'HEARTBEAT_INTERVAL_MS' | 'SHUTDOWN_GRACE_MS'> &
    Partial<Pick<WorkerConfig, 'WILDCARDS_DIR' | 'ENGINE_CACHE_DIR' | 'TASK_TIMEOUT_MS'>>;
  /** Default: silent. */
  logger?: Logger;
  /** Where the fooocus_* worker metrics are registered. Default: a private registry. */
  registry?: Registry;
  /** Default: the system clock. */
  clock?: Clock;
  /** Minimum time between progress writes to the task row. Default 250 ms. */
  progressIntervalMs?: number;
  /**
   * Nak delay after a transient failure on the given (1-based) delivery. Default exponential:
   * 2 s, 4 s, 8 s … capped at 60 s. Also used when a claim fails (database unreachable).
   */
  retryDelayMs?: (deliveryCount: number) => number;
}

export interface WorkerHandle {
  readonly workerId: string;
  /** The task this worker is running now, or null when idle. */
  readonly currentTaskId: string | null;
  /** True once stop() was called. */
  readonly stopping: boolean;
  /**
   * Stops fetching, lets the current task finish within `graceMs` (default
   * SHUTDOWN_GRACE_MS), then aborts and releases it. Resolves when the loop has returned.
   * Idempotent; a second call with a smaller graceMs shortens the wait.
   */
  stop(options?: { graceMs?: number }): Promise<void>;
}

export const defaultRetryDelayMs = (deliveryCount: number): number => Math.min(60_000, 2_000 * 2 ** Math.max(0, deliveryCount - 1));

export async function runWorker(options: RunWorkerOptions): Promise<WorkerHandle> {
  const { store, dispatcher, events, blobs, engine, config } = options;
  const logger = (options.logger ?? pino({ level: 'silent' })).child({ workerId: config.WORKER_ID });
  const metrics = createWorkerMetrics(options.registry ?? new Registry());
  const clock = options.clock ?? { now: () => Date.now() };
  const retryDelayMs = options.retryDelayMs ?? defaultRetryDelayMs;
  const context = {
    store,
    dispatcher,
    events,
    blobs,
    engine,
    modelsDir: config.MODELS_DIR,
    // The engine's graph cache holds the hash index, so a checkpoint is hashed once for both.
    modelStore: new ModelStore({ modelsDir: config.MODELS_DIR, hashCacheDir: config.ENGINE_CACHE_DIR ?? defaultCacheDir(config.MODELS_DIR) }),
    wildcardsDir: wildcardsDir(config),
    workerId: config.WORKER_ID,
    heartbeatIntervalMs: config.HEARTBEAT_INTERVAL_MS,
    taskTimeoutMs: config.TASK_TIMEOUT_MS ?? 0,
    progressIntervalMs: options.progressIntervalMs ?? 250,
    retryDelayMs,
    logger,
    metrics,
    clock,
  };

  let current: TaskAttempt | null = null;
  let stopping = false;
  let stopped: Promise<void> | null = null;
  let shortenGrace: ((graceMs: number) => void) | null = null;
  let graceExpired = false;

  const unsubscribeControl: Unsubscribe = await events.onControl((m) => {
    if (current && (m.taskId === null || m.taskId === current.taskId)) current.control(m.action);
  });

  async function handle(message: DispatchMessage): Promise<void> {
    if (stopping) {
      await message.nak(); // delivered as we stopped: straight back for another worker
      return;
    }
    const claim = await store.claim(message.taskId, config.WORKER_ID);
    if (!claim.claimed) {
      logger.info(
        { taskId: message.taskId, status: claim.current?.status ?? 'deleted', attempt: claim.current?.attempt },
        'dispatch for a task that is not queued: acked without running',
      );
      await message.ack();
      return;
    }
    const attempt = new TaskAttempt(context, claim.task, message);
    current = attempt;
    if (graceExpired) attempt.shutdown(); // claimed while the grace period ran out
    try {
      await attempt.execute();
    } finally {
      current = null;
    }
  }

  const subscription: DispatchSubscription = dispatcher.consume(handle, { errorNakDelayMs: retryDelayMs(1) });
  logger.info({ modelsDir: config.MODELS_DIR, wildcardsDir: context.wildcardsDir }, 'worker consuming');

  async function shutdown(graceMs: number): Promise<void> {
    stopping = true;
    const loopDone = subscription.stop();
    if (current) logger.info({ taskId: current.taskId, graceMs }, 'stopping: waiting for the running task');
    const outcome = await new Promise<'finished' | 'grace'>((resolve) => {
      let timer: NodeJS.Timeout | null = null;
      const arm = (ms: number) => {
        if (timer) clearTimeout(timer);
        timer = setTimeout(() => resolve('grace'), Math.max(0, ms));
      };
      shortenGrace = arm;
      arm(graceMs);
      loopDone.then(
        () => {
          if (timer) clearTimeout(timer);
          resolve('finished');
        },
        () => resolve('finished'),
      );
    });
    shortenGrace = null;
    if (outcome === 'grace') {
      graceExpired = true;
      current?.shutdown();
    }
    await loopDone;
    await unsubscribeControl().catch((err) => logger.warn({ err }, 'control unsubscribe failed'));
    logger.info('worker stopped');
  }

  return {
    workerId: config.WORKER_ID,
    get currentTaskId() {
      return current?.taskId ?? null;
    },
    get stopping() {
      return stopping;
    },
    stop(stopOptions = {}) {
      const graceMs = stopOptions.graceMs ?? config.SHUTDOWN_GRACE_MS;
      if (stopped) {
        shortenGrace?.(graceMs);
        return stopped;
      }
      stopped = shutdown(graceMs);
      return stopped;
    },
  };
}
