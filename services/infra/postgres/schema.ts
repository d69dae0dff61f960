// Kysely table types for the task database. Column names are snake_case as in SQL; rows are
// mapped to domain types in taskRow.ts only. jsonb columns are written through jsonb()
// (sqlValues.ts) and come back parsed by both pg and PGlite.
import type { ColumnType, Generated } from 'kysely';
import type { TaskStatus } from '../../core/task/taskStatus.ts';
import type { JsonObject, JsonValue, TaskError, TaskOutput, TaskProgress } from '../../core/task/taskRecord.ts';

/** int8 comes back as a string from pg and as a number from PGlite; map with Number(). */
type Int8 = ColumnType<string | number, never, never>;
type Timestamp = ColumnType<Date, Date | undefined, Date>;
type NullableTimestamp = ColumnType<Date | null, Date | null | undefined, Date | null>;

export interface TasksTable {
  id: string;
  seq: Int8;
  status: Generated<TaskStatus>;
  attempt: Generated<number>;
  created_at: Timestamp;
  /** Last time the task was (re)dispatched; drives the reconciler's republish. */
  queued_at: Timestamp;
  started_at: NullableTimestamp;
  finished_at: NullableTimestamp;
  heartbeat_at: NullableTimestamp;
  worker_id: string | null;
  req_params: JsonObject;
  results: Generated<TaskOutput[]>;
  progress: TaskProgress | null;
  preview: string | null;
  error: TaskError | null;
  webhook_url: string | null;
  owner: string | null;
  idempotency_key: string | null;
}

export interface TaskOutboxTable {
  id: Int8;
  task_id: string;
  attempt: number;
  created_at: Timestamp;
  /** Not taken before this time (the relay's lease). */
  available_at: Timestamp;
}

export type WebhookDeliveryStatus = 'pending' | 'delivered' | 'failed';

export interface WebhookDeliveriesTable {
  id: Int8;
  event_id: string;
  event_type: string;
  task_id: string;
  url: string;
  payload: JsonValue | null;
  status: Generated<WebhookDeliveryStatus>;
  attempt: Generated<number>;
  next_attempt_at: Timestamp;
  last_error: string | null;
  created_at: Timestamp;
  delivered_at: NullableTimestamp;
}

export interface MigrationsTable {
  id: number;
  name: string;
  applied_at: Timestamp;
}

export interface FooocusDatabase {
  tasks: TasksTable;
  task_outbox: TaskOutboxTable;
  webhook_deliveries: WebhookDeliveriesTable;
  fooocus_migrations: MigrationsTable;
}
