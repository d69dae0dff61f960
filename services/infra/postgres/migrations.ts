// The schema, as an ordered list of migrations. Append only: never edit an applied one.
//
// Each migration is a list of single statements (PGlite's extended-protocol query() runs one
// statement per call). Status literals in CHECK constraints must match TASK_STATUSES
// (taskStatus.ts); a test asserts it.
//
// Index choices:
// - tasks(status, seq): /tasks lists by status newest-first; claim/cancel hit the PK.
// - partial indexes on running-by-heartbeat and queued-by-queued_at keep the reconciler's
//   sweeps cheap however large the finished history grows.
// - unique (coalesce(owner,''), idempotency_key): Idempotency-Key is scoped per tenant, and
//   single-user mode (owner null) still dedups.
// - task_outbox(available_at, id) and webhook_deliveries(next_attempt_at) WHERE pending:
//   the relay and the webhook loop read only due rows.

export interface Migration {
  id: number;
  name: string;
  statements: string[];
}

export const MIGRATIONS: readonly Migration[] = [
  {
    id: 1,
    name: 'tasks, outbox, webhook deliveries',
    statements: [
      `CREATE TABLE tasks (
        id text PRIMARY KEY,
        seq bigint GENERATED ALWAYS AS IDENTITY UNIQUE,
        status text NOT NULL DEFAULT 'queued'
          CHECK (status IN ('queued', 'running', 'finished', 'stopped', 'failed', 'canceled')),
        attempt integer NOT NULL DEFAULT 0,
        created_at timestamptz NOT NULL DEFAULT now(),
        queued_at timestamptz NOT NULL DEFAULT now(),
        started_at timestamptz,
        finished_at timestamptz,
        heartbeat_at timestamptz,
        worker_id text,
        req_params jsonb NOT NULL,
        results jsonb NOT NULL DEFAULT '[]'::jsonb,
        progress jsonb,
        preview text,
        error jsonb,
        webhook_url text,
        owner text,
        idempotency_key text
      )`,
      `CREATE INDEX tasks_status_seq_idx ON tasks (status, seq)`,
      `CREATE INDEX tasks_created_at_idx ON tasks (created_at)`,
      `CREATE INDEX tasks_owner_status_idx ON tasks (owner, status)`,
      `CREATE INDEX tasks_running_heartbeat_idx ON tasks (heartbeat_at) WHERE status = 'running'`,
      `CREATE INDEX tasks_queued_at_idx ON tasks (queued_at) WHERE status = 'queued'`,
      `CREATE UNIQUE INDEX tasks_idempotency_idx ON tasks ((coalesce(owner, '')), idempotency_key)
        WHERE idempotency_key IS NOT NULL`,
      `CREATE TABLE task_outbox (
        id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
        task_id text NOT NULL REFERENCES tasks (id) ON DELETE CASCADE,
        attempt integer NOT NULL,
        created_at timestamptz NOT NULL DEFAULT now(),
        available_at timestamptz NOT NULL DEFAULT now()
      )`,
      `CREATE INDEX task_outbox_available_idx ON task_outbox (available_at, id)`,
      `CREATE INDEX task_outbox_task_idx ON task_outbox (task_id)`,
      `CREATE TABLE webhook_deliveries (
        id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
        event_id text NOT NULL,
        event_type text NOT NULL,
        task_id text NOT NULL REFERENCES tasks (id) ON DELETE CASCADE,
        url text NOT NULL,
        payload jsonb,
        status text NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'delivered', 'failed')),
        attempt integer NOT NULL DEFAULT 0,
        next_attempt_at timestamptz NOT NULL DEFAULT now(),
        last_error text,
        created_at timestamptz NOT NULL DEFAULT now(),
        delivered_at timestamptz,
        UNIQUE (event_id, url)
      )`,
      `CREATE INDEX webhook_deliveries_due_idx ON webhook_deliveries (next_attempt_at, id) WHERE status = 'pending'`,
      `CREATE INDEX webhook_deliveries_task_idx ON webhook_deliveries (task_id)`,
    ],
  },
];
