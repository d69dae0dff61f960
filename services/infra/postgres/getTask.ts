// Read one task by id (primary key).
import type { Kysely } from 'kysely';
import type { Task } from '../../core/task/taskRecord.ts';
import type { FooocusDatabase } from './schema.ts';
import { taskFromRow } from './taskRow.ts';

export async function getTask(db: Kysely<FooocusDatabase>, id: string): Promise<Task | null> {
  const row = await db.selectFrom('tasks').selectAll().where('id', '=', id).executeTakeFirst();
  return row ? taskFromRow(row) : null;
}
