// Row → domain mapping for webhook_deliveries.
import type { Selectable } from 'kysely';
import type { WebhookDelivery, WebhookEventType } from '../../core/ports.ts';
import type { WebhookDeliveriesTable } from './schema.ts';

export function webhookDeliveryFromRow(row: Selectable<WebhookDeliveriesTable>): WebhookDelivery {
  return {
    id: Number(row.id),
    eventId: row.event_id,
    eventType: row.event_type as WebhookEventType,
    taskId: row.task_id,
    url: row.url,
    payload: row.payload,
    attempt: row.attempt,
    createdAt: row.created_at,
    lastError: row.last_error,
  };
}
