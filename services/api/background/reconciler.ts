/**
 * The reconciler (reliability.md B2, B3, B5, B7; ARCHITECTURE.md step 2): Postgres is the
 * source of truth and JetStream only the delivery mechanism, so a periodic sweep repairs
 * whatever the queue lost or a dead worker left behind:
 * 1. store.requeueStale — running tasks whose heartbeat is older than heartbeatTimeoutMs go
 *    back to queued (or fail with worker_crash after maxAttempts: the poison-pill bound lives
 *    in Postgres); queued tasks not dispatched for queuedOlderThanMs get a fresh outbox row
 *    (same attempt ⇒ same message id, deduped if the first message still exists).
 * 2. One outbox relay round, so the repairs are published now rather than at the relay's
 *    next tick.
 * All of it is safe to run on every API replica at once: the sweep is one transaction of
 * fenced UPDATEs and the relay is SKIP LOCKED + dedup.
 *
 * It also owns the `fooocus_queue_depth` gauge (dispatcher.stats() at scrape time).
 */
import type { Registry } from 'prom-client';
import type { Dispatcher, RequeueStaleReport, TaskStore } from '../../core/ports.ts';
import { counterIn, defaultRegistry, gaugeIn, silentLogger, type Logger } from './loopDeps.ts';
import { relayOutboxOnce, type RelayReport } from './outboxRelay.ts';
import { startPeriodicLoop } from './periodicLoop.ts';

export interface ReconcilerOptions {
  store: Pick<TaskStore, 'requeueStale' | 'takeOutbox' | 'markOutboxSent'>;
  dispatcher: Pick<Dispatcher, 'publish' | 'stats'>;
  /** Running tasks with an older heartbeat are requeued (HEARTBEAT_TIMEOUT_MS). Required. */
  heartbeatTimeoutMs: number;
  /** Queued tasks not dispatched for this long are republished (RECONCILE_AFTER_MS). Default: not republished. */
  queuedOlderThanMs?: number;
  /** A stale task that used this many attempts fails with worker_crash. Default 3 (the store's default). */
  maxAttempts?: number;
  /** Pause between sweeps. Default 10 000 ms. */
  intervalMs?: number;
  /** Relay batch after the sweep. Default 100. */
  relayBatch?: number;
  logger?: Logger;
  /** Default prom-client's global registry. */
  registry?: Registry;
}

export interface ReconcileReport extends RequeueStaleReport {
  relay: RelayReport;
}

export interface Reconciler {
  /** Stops the loop (and unregisters the queue-depth gauge it registered). */
  stop(): Promise<void>;
  /** One sweep + relay round now. */
  runOnce(): Promise<ReconcileReport>;
}

export function startReconciler(options: ReconcilerOptions): Reconciler {
  const { store, dispatcher, heartbeatTimeoutMs, queuedOlderThanMs, maxAttempts, logger = silentLogger, registry = defaultRegistry } = options;
  const actions = counterIn(
    registry,
    'fooocus_reconciler_tasks_total',
    'Tasks repaired by the reconciler: requeued (stale heartbeat), redispatched (queued too long), failed (stale and out of attempts).',
    ['action'],
  );
  const depth = gaugeIn(
    registry,
    'fooocus_queue_depth',
    'Dispatch messages in the queue at scrape time: waiting (not yet delivered) and in_flight (delivered, not settled).',
    ['state'],
    async function collect() {
      try {
        const stats = await dispatcher.stats();
        this.set({ state: 'waiting' }, stats.waiting);
        this.set({ state: 'in_flight' }, stats.inFlight);
      } catch (err) {
        logger.warn({ err }, 'queue depth unavailable');
      }
    },
  );

  async function runOnce(): Promise<ReconcileReport> {
    const swept = await store.requeueStale({ heartbeatOlderThanMs: heartbeatTimeoutMs, queuedOlderThanMs, maxAttempts });
    if (swept.requeued.length) actions.inc({ action: 'requeued' }, swept.requeued.length);
    if (swept.redispatched.length) actions.inc({ action: 'redispatched' }, swept.redispatched.length);
    if (swept.failed.length) actions.inc({ action: 'failed' }, swept.failed.length);
    if (swept.requeued.length || swept.redispatched.length || swept.failed.length) {
      logger.info({ requeued: swept.requeued, redispatched: swept.redispatched, failed: swept.failed }, 'reconciler repaired tasks');
    }
    const relay = await relayOutboxOnce({ store, dispatcher, batch: options.relayBatch, logger, registry });
    return { ...swept, relay };
  }

  const loop = startPeriodicLoop({
    name: 'reconciler',
    intervalMs: options.intervalMs ?? 10_000,
    logger,
    tick: async () => {
      await runOnce();
      return false;
    },
  });
  return {
    async stop() {
      await loop.stop();
      if (depth.created) registry.removeSingleMetric('fooocus_queue_depth');
    },
    runOnce,
  };
}
