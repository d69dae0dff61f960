// A failed try. The caller owns the retry schedule (Svix-like with jitter, B8) and passes the
// delay; it is added to the database clock, like every lease here. `retryInMs: null` gives
// up (status failed: 410 Gone, schedule exhausted). Fenced on attempt like markWebhookDelivered.
import type { Kysely } from 'kysely';
import type { FooocusDatabase } from './schema.ts';
import { msAhead } from './sqlValues.ts';

export async function markWebhookFailed(
  db: Kysely<FooocusDatabase>,
  id: number,
  attempt: number,
  failure: { error: string; retryInMs: number | null },
): Promise<boolean> {
  const result = await db
    .updateTable('webhook_deliveries')
    .set(
      failure.retryInMs === null
        ? { status: 'failed', last_error: failure.error }
        : { next_attempt_at: msAhead(failure.retryInMs), last_error: failure.error },
    )
    .where('id', '=', String(id))
    .where('attempt', '=', attempt)
    .where('status', '=', 'pending')
    .executeTakeFirst();
  return Number(result.numUpdatedRows) === 1;
}
