// TaskStore over Kysely: the same code for a Postgres server (connectPostgres) and embedded
// PGlite (connectPglite). One SQL operation per file; this only binds them to the port.
import type { Kysely } from 'kysely';
import type { TaskListQuery, TaskStore } from '../../core/ports.ts';
import { cancelTask } from './cancelTask.ts';
import { claimTask } from './claimTask.ts';
import { completeTask } from './completeTask.ts';
import { createTask } from './createTask.ts';
import { deleteTasks } from './deleteTasks.ts';
import { enqueueWebhook } from './enqueueWebhook.ts';
import { failTask } from './failTask.ts';
import { getTask } from './getTask.ts';
import { heartbeatTask } from './heartbeatTask.ts';
import { countTasks, listTasks } from './listTasks.ts';
import { markOutboxSent } from './markOutboxSent.ts';
import { markWebhookDelivered } from './markWebhookDelivered.ts';
import { markWebhookFailed } from './markWebhookFailed.ts';
import { releaseTask } from './releaseTask.ts';
import { requeueStaleTasks } from './requeueStaleTasks.ts';
import type { FooocusDatabase } from './schema.ts';
import { takeDueWebhooks } from './takeDueWebhooks.ts';
import { takeOutbox } from './takeOutbox.ts';
import { translateDbErrors } from './transientDbError.ts';
import { updateTaskProgress } from './updateTaskProgress.ts';

export interface PostgresTaskStoreOptions {
  /** From connectPostgres(url).db or connectPglite(dir).db; migrations already applied. */
  db: Kysely<FooocusDatabase>;
}

export type PostgresTaskStore = TaskStore;

export function createPostgresTaskStore({ db }: PostgresTaskStoreOptions): PostgresTaskStore {
  // Transient database failures surface as TransientInfraError (transientDbError.ts).
  return translateDbErrors<PostgresTaskStore>({
    create: (task) => createTask(db, task),
    get: (id) => getTask(db, id),
    list: (query: TaskListQuery) => listTasks(db, query),
    count: (filter) => countTasks(db, filter),
    claim: (id, workerId) => claimTask(db, id, workerId),
    heartbeat: (id, attempt) => heartbeatTask(db, id, attempt),
    updateProgress: (id, attempt, progress, preview) => updateTaskProgress(db, id, attempt, progress, preview),
    complete: (id, attempt, results, options) => completeTask(db, id, attempt, results, options),
    fail: (id, attempt, error) => failTask(db, id, attempt, error),
    release: (id, attempt, options) => releaseTask(db, id, attempt, options),
    cancel: (id) => cancelTask(db, id),
    requeueStale: (options) => requeueStaleTasks(db, options),
    deleteMany: (ids) => deleteTasks(db, ids),
    takeOutbox: (limit, leaseMs) => takeOutbox(db, limit, leaseMs),
    markOutboxSent: (ids) => markOutboxSent(db, ids),
    enqueueWebhook: (delivery) => enqueueWebhook(db, delivery),
    takeDueWebhooks: (limit, leaseMs) => takeDueWebhooks(db, limit, leaseMs),
    markWebhookDelivered: (id, attempt) => markWebhookDelivered(db, id, attempt),
    markWebhookFailed: (id, attempt, failure) => markWebhookFailed(db, id, attempt, failure),
  });
}
