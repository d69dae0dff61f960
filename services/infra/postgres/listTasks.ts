// /tasks queries (api-contract.md §4.5) in domain terms: status set, inclusive created_at
// range, owner, newest/oldest by seq (FooocusAPI's `ORDER BY id DESC`), OFFSET pagination.
// OFFSET is fine here: FooocusAPI clients page by number, history pages are small, and the
// (status, seq) index serves the common unfiltered case. countTasks shares the filter so
// "queued tasks for this key" (QUEUE_IS_FULL) needs no rows.
import type { Kysely, SelectQueryBuilder } from 'kysely';
import type { TaskListQuery } from '../../core/ports.ts';
import type { Task } from '../../core/task/taskRecord.ts';
import type { FooocusDatabase } from './schema.ts';
import { taskFromRow } from './taskRow.ts';

export type TaskFilter = Pick<TaskListQuery, 'statuses' | 'createdFrom' | 'createdTo' | 'owner'>;

function applyFilter<O>(
  query: SelectQueryBuilder<FooocusDatabase, 'tasks', O>,
  filter: TaskFilter,
): SelectQueryBuilder<FooocusDatabase, 'tasks', O> {
  let q = query;
  if (filter.statuses) {
    if (filter.statuses.length === 0) return q.where((eb) => eb.val(false));
    q = q.where('status', 'in', [...filter.statuses]);
  }
  if (filter.createdFrom) q = q.where('created_at', '>=', filter.createdFrom);
  // Domain times are JS Dates (ms); the column has µs. "<= to" must include the whole
  // millisecond `to` names, or a task's own createdAt would not match itself.
  if (filter.createdTo) q = q.where('created_at', '<', new Date(filter.createdTo.getTime() + 1));
  if (filter.owner !== undefined) q = filter.owner === null ? q.where('owner', 'is', null) : q.where('owner', '=', filter.owner);
  return q;
}

export async function listTasks(db: Kysely<FooocusDatabase>, query: TaskListQuery): Promise<Task[]> {
  let q = applyFilter(db.selectFrom('tasks').selectAll(), query).orderBy('seq', query.order === 'oldest' ? 'asc' : 'desc');
  if (query.pageSize !== undefined) {
    const pageSize = Math.max(0, Math.floor(query.pageSize));
    const page = Math.max(0, Math.floor(query.page ?? 0));
    q = q.limit(pageSize).offset(page * pageSize);
  }
  return (await q.execute()).map(taskFromRow);
}

export async function countTasks(db: Kysely<FooocusDatabase>, filter: TaskFilter): Promise<number> {
  const row = await applyFilter(db.selectFrom('tasks').select((eb) => eb.fn.countAll<string | number>().as('n')), filter)
    .executeTakeFirstOrThrow();
  return Number(row.n);
}
