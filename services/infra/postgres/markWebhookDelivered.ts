// A 2xx from the receiver. Fenced on the attempt the sender took (takeDueWebhooks), so a
// sender whose lease expired cannot overwrite the outcome of the retry that replaced it.
import { sql, type Kysely } from 'kysely';
import type { FooocusDatabase } from './schema.ts';

export async function markWebhookDelivered(db: Kysely<FooocusDatabase>, id: number, attempt: number): Promise<boolean> {
  const result = await db
    .updateTable('webhook_deliveries')
    .set({ status: 'delivered', delivered_at: sql<Date>`now()`, last_error: null })
    .where('id', '=', String(id))
    .where('attempt', '=', attempt)
    .where('status', '=', 'pending')
    .executeTakeFirst();
  return Number(result.numUpdatedRows) === 1;
}
