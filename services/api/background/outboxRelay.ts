/**
 * The outbox relay (reliability.md I3, fault cases 7–8): the task row and its dispatch
 * record are committed in one transaction; this loop turns dispatch records into queue
 * messages. takeOutbox leases a batch (FOR UPDATE SKIP LOCKED: relays on several API
 * replicas take disjoint rows) → dispatcher.publish(taskId, attempt) → markOutboxSent for
 * the ones that were published.
 *
 * At-least-once by construction, exactly-once in effect: a relay that dies between publish
 * and markOutboxSent leaves the row to be published again after its lease, and the message
 * id `<taskId>:<attempt>` makes the queue drop the duplicate (PubAck.duplicate); past the
 * dedup window the worker's fenced claim makes a second delivery a no-op. A failed publish
 * (NATS down) leaves its row leased until `leaseMs` passes, then the next round retries it —
 * so the API keeps accepting tasks (202) while NATS is away.
 */
import type { Registry } from 'prom-client';
import type { Dispatcher, TaskStore } from '../../core/ports.ts';
import { counterIn, defaultRegistry, silentLogger, type Logger } from './loopDeps.ts';
import { startPeriodicLoop } from './periodicLoop.ts';

export interface OutboxRelayOptions {
  store: Pick<TaskStore, 'takeOutbox' | 'markOutboxSent'>;
  dispatcher: Pick<Dispatcher, 'publish'>;
  /** Pause between rounds when idle. Default 500 ms (the latency of a task reaching a worker when the API does not publish directly). */
  intervalMs?: number;
  /** Entries per round. Default 100. */
  batch?: number;
  /** Lease on taken entries; a failed publish is retried after it. Default 10 000 ms. */
  leaseMs?: number;
  logger?: Logger;
  /** Default prom-client's global registry. */
  registry?: Registry;
}

export interface RelayReport {
  /** Entries taken this round. */
  taken: number;
  /** Newly published. */
  published: number;
  /** Already in the queue (dedup id seen): nothing new was enqueued. */
  duplicates: number;
  /** Publish failed: left for a later round. */
  failed: number;
}

export interface OutboxRelay {
  stop(): Promise<void>;
  /** One round now (safe alongside the loop and other replicas). */
  runOnce(): Promise<RelayReport>;
}

export const DEFAULT_RELAY_LEASE_MS = 10_000;

/** One relay round without a loop (the reconciler runs it after requeueing). */
export async function relayOutboxOnce(options: OutboxRelayOptions): Promise<RelayReport> {
  const { store, dispatcher, batch = 100, leaseMs = DEFAULT_RELAY_LEASE_MS, logger = silentLogger, registry = defaultRegistry } = options;
  const publishes = counterIn(
    registry,
    'fooocus_outbox_publishes_total',
    'Outbox entries handed to the dispatcher, by outcome: published (new message), duplicate (the queue already had it), failed (left for a later round).',
    ['outcome'],
  );
  const entries = await store.takeOutbox(batch, leaseMs);
  const report: RelayReport = { taken: entries.length, published: 0, duplicates: 0, failed: 0 };
  if (entries.length === 0) return report;

  const results = await Promise.allSettled(entries.map((e) => dispatcher.publish(e.taskId, e.attempt)));
  const sent: number[] = [];
  results.forEach((r, i) => {
    const entry = entries[i];
    if (r.status === 'fulfilled') {
      sent.push(entry.id);
      if (r.value.duplicate) report.duplicates++;
      else report.published++;
    } else {
      report.failed++;
      logger.warn({ err: r.reason, taskId: entry.taskId, attempt: entry.attempt }, `publish failed; retrying after ${leaseMs} ms`);
    }
  });
  if (report.published) publishes.inc({ outcome: 'published' }, report.published);
  if (report.duplicates) publishes.inc({ outcome: 'duplicate' }, report.duplicates);
  if (report.failed) publishes.inc({ outcome: 'failed' }, report.failed);
  // If this throws, the published rows are republished after the lease: deduped, harmless.
  await store.markOutboxSent(sent);
  return report;
}

export function startOutboxRelay(options: OutboxRelayOptions): OutboxRelay {
  const batch = options.batch ?? 100;
  const runOnce = () => relayOutboxOnce(options);
  const loop = startPeriodicLoop({
    name: 'outbox-relay',
    intervalMs: options.intervalMs ?? 500,
    logger: options.logger ?? silentLogger,
    // Drain a backlog without pausing, but not while publishes fail (NATS down).
    tick: async () => {
      const r = await runOnce();
      return r.taken >= batch && r.failed === 0;
    },
  });
  return { stop: () => loop.stop(), runOnce };
}
