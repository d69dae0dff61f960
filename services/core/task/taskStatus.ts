// Task status values and the only code that compares them. (Task, attempt, event and output
// are defined once in ../terminology.ts. `attempt` is 0 until the first claim.)
//
// Lifecycle (reliability.md I1):
//   queued → running → finished | stopped | failed | canceled
//   queued → canceled
//   running → queued       by the reconciler (stale heartbeat) or the worker itself (release)
// `stopped` is FooocusAPI's "stop": the user stopped a running task with
// POST /v1/engine/control and it ended early, KEEPING the images finished before the stop.
// `canceled` discards them (native cancel; a queued task never runs).

export const TASK_STATUSES = ['queued', 'running', 'finished', 'stopped', 'failed', 'canceled'] as const;
export type TaskStatus = (typeof TASK_STATUSES)[number];

/** Named values, so call sites say `TaskStatus.queued` rather than a bare string. */
export const TaskStatus = {
  queued: 'queued',
  running: 'running',
  finished: 'finished',
  stopped: 'stopped',
  failed: 'failed',
  canceled: 'canceled',
} as const satisfies Record<TaskStatus, TaskStatus>;

export const TERMINAL_STATUSES: readonly TaskStatus[] = ['finished', 'stopped', 'failed', 'canceled'];
export const CANCELABLE_STATUSES: readonly TaskStatus[] = ['queued', 'running'];
/** Outcomes a worker may record with a fenced complete (failures go through fail()). */
export type CompletedStatus = Extract<TaskStatus, 'finished' | 'stopped'>;

export function isTaskStatus(value: unknown): value is TaskStatus {
  return typeof value === 'string' && (TASK_STATUSES as readonly string[]).includes(value);
}

/** No further transition is possible; the task's results are final. */
export function isTerminal(status: TaskStatus): boolean {
  return TERMINAL_STATUSES.includes(status);
}

/** A cancel request would change the task (queued tasks never run; running tasks stop). */
export function canCancel(status: TaskStatus): boolean {
  return CANCELABLE_STATUSES.includes(status);
}

/** Waiting for a worker (FooocusAPI's "pending" list). */
export function isQueued(status: TaskStatus): boolean {
  return status === TaskStatus.queued;
}

/** Held by a worker (FooocusAPI's "current" list). */
export function isRunning(status: TaskStatus): boolean {
  return status === TaskStatus.running;
}

/** True when the transition is allowed by the lifecycle above. */
export function canTransition(from: TaskStatus, to: TaskStatus): boolean {
  switch (from) {
    case 'queued':
      return to === 'running' || to === 'canceled';
    case 'running':
      return to === 'queued' || isTerminal(to);
    case 'finished':
    case 'stopped':
    case 'failed':
    case 'canceled':
      return false;
    default:
      return assertNever(from);
  }
}

// ---- FooocusAPI wire values (api-contract.md §4.3) ---------------------------------------

/**
 * FooocusAPI's `task_status` strings. It has no failed/canceled: failures are reported as
 * "finished" with whatever results exist, and queued tasks read from its DB show `null`.
 */
export type FooocusTaskStatus = 'pending' | 'running' | 'finished' | 'stop' | 'skip';

/**
 * Where the value is shown: `async-response` is the immediate reply to an async generate
 * (always "pending"); `record` is `/tasks`, `/tasks/{id}`, sync replies and webhooks.
 *
 * Deviation (list it in docs/compat.md): a failed task is reported as "failed" rather than
 * FooocusAPI's "finished", and a canceled task as "canceled" — FooocusAPI cannot cancel and
 * hides failures (ARCHITECTURE.md: "do the right thing" where it is plainly broken).
 * Pass `{ fooocusFailures: true }` for byte-for-byte FooocusAPI behaviour.
 */
export function toFooocusStatus(
  status: TaskStatus,
  view: 'async-response' | 'record' = 'record',
  options: { fooocusFailures?: boolean } = {},
): FooocusTaskStatus | 'failed' | 'canceled' | null {
  if (view === 'async-response') return 'pending';
  switch (status) {
    case 'queued':
      return null;
    case 'running':
      return 'running';
    case 'finished':
      return 'finished';
    case 'stopped':
      return 'stop';
    case 'failed':
      return options.fooocusFailures ? 'finished' : 'failed';
    case 'canceled':
      return options.fooocusFailures ? 'stop' : 'canceled';
    default:
      return assertNever(status);
  }
}

/** FooocusAPI `/tasks?query=` lists → the statuses each shows (§4.5). */
export function statusesForFooocusQuery(query: 'history' | 'current' | 'pending'): readonly TaskStatus[] {
  switch (query) {
    case 'pending':
      return [TaskStatus.queued];
    case 'current':
      return [TaskStatus.running];
    case 'history':
      // FooocusAPI: DB rows not in the pending queue, i.e. the running task and all finished ones.
      return TASK_STATUSES.filter((s) => s !== TaskStatus.queued);
    default:
      return assertNever(query);
  }
}

function assertNever(value: never): never {
  throw new Error(`unexpected value: ${String(value)}`);
}
