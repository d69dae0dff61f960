// Published entries are deleted, not flagged: the outbox stays as small as the backlog, and
// the task row (queued_at) is what the reconciler uses to decide on a republish.
import type { Kysely } from 'kysely';
import type { FooocusDatabase } from './schema.ts';

export async function markOutboxSent(db: Kysely<FooocusDatabase>, ids: readonly number[]): Promise<void> {
  if (ids.length === 0) return;
  await db.deleteFrom('task_outbox').where('id', 'in', ids.map(String)).execute();
}
