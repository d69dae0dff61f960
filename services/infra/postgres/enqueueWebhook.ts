// Add a webhook delivery. Idempotent on (event_id, url) so a retried enqueue — or the
// terminal-transition CTE racing an explicit enqueue — yields one delivery per event id.
// Terminal task webhooks are enqueued by complete/fail/cancel themselves; this is for others.
import type { Kysely } from 'kysely';
import type { NewWebhookDelivery } from '../../core/ports.ts';
import type { FooocusDatabase } from './schema.ts';
import { jsonb } from './sqlValues.ts';

export async function enqueueWebhook(db: Kysely<FooocusDatabase>, delivery: NewWebhookDelivery): Promise<{ id: number; created: boolean }> {
  const inserted = await db
    .insertInto('webhook_deliveries')
    .values({
      event_id: delivery.eventId,
      event_type: delivery.eventType,
      task_id: delivery.taskId,
      url: delivery.url,
      payload: jsonb(delivery.payload ?? null),
    })
    .onConflict((oc) => oc.columns(['event_id', 'url']).doNothing())
    .returning('id')
    .executeTakeFirst();
  if (inserted) return { id: Number(inserted.id), created: true };
  const existing = await db
    .selectFrom('webhook_deliveries')
    .select('id')
    .where('event_id', '=', delivery.eventId)
    .where('url', '=', delivery.url)
    .executeTakeFirstOrThrow();
  return { id: Number(existing.id), created: false };
}
