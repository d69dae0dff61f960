// Delete tasks (FooocusAPI `/tasks?action=delete`, native DELETE) and return the output
// keys the caller must remove from the BlobStore. Rows go first: a crash after the DELETE
// leaves orphan objects (garbage-collectable, I5) rather than rows pointing at missing files.
// Outbox and webhook rows cascade.
import type { Kysely } from 'kysely';
import { outputKeysOf } from '../../core/task/taskRecord.ts';
import type { FooocusDatabase } from './schema.ts';

export async function deleteTasks(
  db: Kysely<FooocusDatabase>,
  ids: readonly string[],
): Promise<{ deletedIds: string[]; outputKeys: string[] }> {
  if (ids.length === 0) return { deletedIds: [], outputKeys: [] };
  const rows = await db.deleteFrom('tasks').where('id', 'in', [...ids]).returning(['id', 'results']).execute();
  return {
    deletedIds: rows.map((r) => r.id),
    outputKeys: rows.flatMap((r) => outputKeysOf({ results: r.results ?? [] })),
  };
}
