// The CTE fragment that enqueues a task's terminal webhook in the SAME statement as the
// fenced terminal UPDATE (complete/fail/cancel/requeueStale's give-up). A crash between "row
// is terminal" and "webhook enqueued" is therefore impossible, and ON CONFLICT makes the
// event id — the Standard Webhooks `webhook-id` — unique per task (reliability.md I4).
// The body is rendered from the task row at delivery time (payload null).
import { sql, type RawBuilder } from 'kysely';
import type { WebhookEventType } from '../../core/ports.ts';

/** `webhook-id` of a task's terminal event: one per task, stable across retries. */
export function terminalEventId(taskId: string): string {
  return `evt_${taskId}`;
}

/** `hook AS (INSERT … SELECT … FROM <source>)`; `source` must expose id and webhook_url. */
export function enqueueTerminalWebhookCte(source: string, eventType: WebhookEventType): RawBuilder<unknown> {
  return sql`hook AS (
    INSERT INTO webhook_deliveries (event_id, event_type, task_id, url)
    SELECT 'evt_' || s.id, ${eventType}, s.id, s.webhook_url
    FROM ${sql.table(source)} s
    WHERE s.webhook_url IS NOT NULL AND s.webhook_url <> ''
    ON CONFLICT (event_id, url) DO NOTHING
  )`;
}
