// A worker on given backends: the engine (in its worker thread) plus the consume loop. Used
// by the cluster entry (services/worker/main.ts) and by the embedded single-process
// `services/main.ts`, which passes the SAME Backends object it gives the API (in-process
// dispatch and events exist only in that object).
import type { Logger } from 'pino';
import type { Registry } from 'prom-client';
import type { BlobStore, Dispatcher, EventBus, TaskStore } from '../core/ports.ts';
import { defaultCacheDir } from '../engine/engine.ts';
import { EngineHost } from '../engine/engineHost.ts';
import type { WorkerConfig } from './config.ts';
import { RespawningEngine, type ClosableEngine } from './respawningEngine.ts';
import { runWorker, type WorkerHandle } from './runWorker.ts';

export interface StartWorkerOptions {
  logger?: Logger;
  /** Where worker metrics go (the process's /metrics registry). Default: a private one. */
  registry?: Registry;
  /** Use this engine instead of starting an EngineHost from the config (tests, benchmarks). */
  engine?: ClosableEngine;
}

export interface StartedWorker {
  readonly worker: WorkerHandle;
  readonly engine: ClosableEngine;
  /** Graceful stop (see WorkerHandle.stop), then the engine thread is closed. Idempotent. */
  stop(options?: { graceMs?: number }): Promise<void>;
}

export async function startWorker(
  config: WorkerConfig,
  backends: { store: TaskStore; dispatcher: Dispatcher; events: EventBus; blobs: BlobStore },
  options: StartWorkerOptions = {},
): Promise<StartedWorker> {
  const engine =
    options.engine ??
    new RespawningEngine(
      () =>
        new EngineHost({
          cacheDir: config.ENGINE_CACHE_DIR ?? defaultCacheDir(config.MODELS_DIR),
          provider: config.ENGINE_PROVIDER,
          deviceId: config.ENGINE_DEVICE_ID,
          intraOpThreads: config.ENGINE_THREADS,
        }),
      options.logger,
    );
  if (config.HEARTBEAT_INTERVAL_MS * 3 > config.ACK_WAIT_MS) {
    // B5: working() must reach JetStream well within the ack wait, or a slow step looks like a
    // dead worker and the task is redelivered while it still runs.
    options.logger?.warn(
      { HEARTBEAT_INTERVAL_MS: config.HEARTBEAT_INTERVAL_MS, ACK_WAIT_MS: config.ACK_WAIT_MS },
      'HEARTBEAT_INTERVAL_MS should be at most a third of ACK_WAIT_MS',
    );
  }
  const worker = await runWorker({ ...backends, engine, config, logger: options.logger, registry: options.registry });
  let stopping: Promise<void> | null = null;
  return {
    worker,
    engine,
    stop(stopOptions) {
      if (stopping) return worker.stop(stopOptions).then(() => stopping!);
      stopping = worker.stop(stopOptions).finally(() => engine.close());
      return stopping;
    },
  };
}
