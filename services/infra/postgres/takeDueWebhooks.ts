// The webhook loop's read: pending deliveries whose next attempt is due, oldest first.
// Taking one increments its attempt and pushes next_attempt_at forward by the lease, in
// one UPDATE over a FOR UPDATE SKIP LOCKED sub-select: two API replicas never send the same
// delivery concurrently, and a replica that dies mid-send leaves it due again after the
// lease (graphile-worker's run_at trick; no separate lock column). The incremented attempt
// fences markWebhookDelivered/markWebhookFailed against a lease that expired meanwhile.
import { sql, type Kysely, type Selectable } from 'kysely';
import type { WebhookDelivery } from '../../core/ports.ts';
import type { FooocusDatabase, WebhookDeliveriesTable } from './schema.ts';
import { msAhead } from './sqlValues.ts';
import { webhookDeliveryFromRow } from './webhookRow.ts';

export const DEFAULT_WEBHOOK_LEASE_MS = 60_000;

export async function takeDueWebhooks(
  db: Kysely<FooocusDatabase>,
  limit: number,
  leaseMs = DEFAULT_WEBHOOK_LEASE_MS,
): Promise<WebhookDelivery[]> {
  const { rows } = await sql<Selectable<WebhookDeliveriesTable>>`
    UPDATE webhook_deliveries
    SET attempt = attempt + 1, next_attempt_at = ${msAhead(leaseMs)}
    WHERE id IN (
      SELECT id FROM webhook_deliveries
      WHERE status = 'pending' AND next_attempt_at <= now()
      ORDER BY next_attempt_at, id
      LIMIT ${Math.max(0, Math.floor(limit))}
      FOR UPDATE SKIP LOCKED
    )
    RETURNING *`.execute(db);
  return rows.map(webhookDeliveryFromRow).sort((a, b) => a.id - b.id);
}
