// Ports: the narrow, domain-verb interfaces the API and worker use. Each has one real adapter
// per backend (services/infra): Postgres and PGlite, JetStream and in-process, S3 and the
// local file system, chosen once at start-up. No driver type (pg, kysely, nats, AWS SDK,
// node:fs) appears in any signature here, and no route or consume loop touches a driver.
//
// Clocks: every time-relative argument is a duration in milliseconds, evaluated against the
// database's clock (`now()`), so API replicas and workers with skewed clocks agree.
import type { TaskStatus } from './task/taskStatus.ts';
import type { NewTask, Task, TaskError, TaskOutput, TaskProgress, JsonValue } from './task/taskRecord.ts';
import type { ControlAction, ControlMessage, TaskEvent, TaskEventEnvelope } from './task/taskEvents.ts';

export type Unsubscribe = () => Promise<void>;

// ---- TaskStore --------------------------------------------------------------------------

export type CreateTaskResult =
  /** Inserted, together with its outbox entry (attempt 0), in one transaction (I3). */
  | { created: true; task: Task }
  /** Same (owner, idempotencyKey) as an existing task: nothing inserted, that task returned. */
  | { created: false; task: Task };

export type ClaimResult =
  | { claimed: true; task: Task }
  /**
   * The fenced claim matched no row. `current` says why: null = no such task (deleted);
   * otherwise its status is not queued (running elsewhere, canceled, already terminal).
   * The worker acks (or terms) the message and runs nothing.
   */
  | { claimed: false; current: Task | null };

/** A running attempt given back by its worker (TaskStore.release). */
export interface ReleaseResult {
  /** The task, queued again (attempt unchanged until the next claim). */
  task: Task;
  /** The dispatch inserted with it (`redispatch`), to publish now and markOutboxSent; else null. */
  outbox: OutboxEntry | null;
}

export type CancelResult =
  | { outcome: 'canceled'; task: Task; /** status before the cancel */ previous: TaskStatus }
  | { outcome: 'not_cancelable'; task: Task }
  | { outcome: 'not_found' };

export interface TaskListQuery {
  /** Only these statuses. Default: all. */
  statuses?: readonly TaskStatus[];
  /** created_at >= this (inclusive). FooocusAPI `start_at` on `in_queue_mills`. */
  createdFrom?: Date;
  /** created_at <= this (inclusive). FooocusAPI `end_at`. */
  createdTo?: Date;
  /** Only this tenant's tasks. Default: everyone's. */
  owner?: string | null;
  /** By insertion order (seq). Default 'newest' (FooocusAPI `ORDER BY id DESC`). */
  order?: 'newest' | 'oldest';
  /** Zero-based page. Default 0. */
  page?: number;
  /** Rows per page; undefined = no limit (FooocusAPI's time-filtered history is unpaginated). */
  pageSize?: number;
}

export interface RequeueStaleOptions {
  /** Running tasks whose last heartbeat is older than this go back to queued (new dispatch). */
  heartbeatOlderThanMs: number;
  /**
   * Queued tasks last dispatched longer ago than this are dispatched again with the same
   * message id (B2: JetStream may lose acknowledged writes). Default: not republished.
   */
  queuedOlderThanMs?: number;
  /**
   * A stale running task that has already used this many attempts is failed with
   * `worker_crash` instead of requeued (the poison-pill bound lives in Postgres, B7).
   * Default 3.
   */
  maxAttempts?: number;
}

export interface RequeueStaleReport {
  /** Running → queued, with a new outbox entry for their current attempt. */
  requeued: string[];
  /** Queued tasks given a fresh outbox entry (same attempt, so the same dedup id). */
  redispatched: string[];
  /** Running → failed (worker_crash): out of attempts. */
  failed: string[];
}

/** A pending dispatch: publish it, then markOutboxSent. */
export interface OutboxEntry {
  id: number;
  taskId: string;
  /** The task's attempt when dispatched; the message dedup id is `<taskId>:<attempt>`. */
  attempt: number;
}

export type WebhookEventType = 'task.completed' | 'task.failed' | 'task.canceled';

export interface NewWebhookDelivery {
  /** The `webhook-id`: stable across retries of the same event (I4). */
  eventId: string;
  eventType: WebhookEventType;
  taskId: string;
  url: string;
  /** Body to send; null = render it from the task row at delivery time. */
  payload?: JsonValue | null;
}

export interface WebhookDelivery {
  id: number;
  eventId: string;
  eventType: WebhookEventType;
  taskId: string;
  url: string;
  payload: JsonValue | null;
  /** 1 for the first try; fences markWebhookDelivered/markWebhookFailed. */
  attempt: number;
  createdAt: Date;
  lastError: string | null;
}

export interface TaskStore {
  /** Inserts the task (status queued, attempt 0) and its outbox entry in one transaction. */
  create(task: NewTask): Promise<CreateTaskResult>;
  get(id: string): Promise<Task | null>;
  list(query: TaskListQuery): Promise<Task[]>;
  /** How many tasks match the filter, without reading them (queue sizes). */
  count(filter: Pick<TaskListQuery, 'statuses' | 'createdFrom' | 'createdTo' | 'owner'>): Promise<number>;
  /**
   * Fenced `UPDATE … SET status='running', attempt=attempt+1 WHERE id=$1 AND status='queued'`.
   * Of two concurrent claims exactly one wins.
   */
  claim(id: string, workerId: string): Promise<ClaimResult>;
  /** Refreshes the lease. False = this attempt no longer owns the task (canceled, requeued, …): stop. */
  heartbeat(id: string, attempt: number): Promise<boolean>;
  /** Records progress (and the latest preview) and refreshes the lease; false as for heartbeat. */
  updateProgress(id: string, attempt: number, progress: TaskProgress, preview?: string | null): Promise<boolean>;
  /**
   * Fenced on status='running' AND attempt. Null = a stale attempt: discard the outputs, ack.
   * `stopped` records FooocusAPI's stop (status `stopped`, partial results kept).
   * Atomically enqueues the task's webhook (event `task.completed`) when it has a URL.
   */
  complete(id: string, attempt: number, results: TaskOutput[], options?: { stopped?: boolean }): Promise<Task | null>;
  /** Fenced like complete; status failed with `error`; enqueues `task.failed`. */
  fail(id: string, attempt: number, error: TaskError): Promise<Task | null>;
  /**
   * A live worker gives its attempt back: fenced `running → queued` (status='running' AND
   * attempt). `redispatch` (default true) inserts an outbox entry for the current attempt in
   * the same statement and returns it (graceful shutdown: publish it, then ack the old
   * message); false leaves the redispatch to the caller's nak (transient failure, so the
   * delivery count keeps bounding retries). Null = this attempt no longer owns the task.
   */
  release(id: string, attempt: number, options?: { redispatch?: boolean }): Promise<ReleaseResult | null>;
  /** Queued or running → canceled (clears any preview); enqueues `task.canceled`. */
  cancel(id: string): Promise<CancelResult>;
  /** The reconciler's sweep; see RequeueStaleOptions. */
  requeueStale(options: RequeueStaleOptions): Promise<RequeueStaleReport>;
  /** Deletes the tasks (and their outbox/webhook rows); returns the output keys to remove. */
  deleteMany(ids: readonly string[]): Promise<{ deletedIds: string[]; outputKeys: string[] }>;

  /**
   * Oldest unsent outbox entries, leased for `leaseMs` (default 30 s) so concurrent relays
   * rarely double-publish (a double publish is harmless: the dedup id is the same).
   */
  takeOutbox(limit: number, leaseMs?: number): Promise<OutboxEntry[]>;
  markOutboxSent(ids: readonly number[]): Promise<void>;

  /** Idempotent on (eventId, url): returns created=false for a duplicate. */
  enqueueWebhook(delivery: NewWebhookDelivery): Promise<{ id: number; created: boolean }>;
  /**
   * Due deliveries (next attempt time reached), each leased for `leaseMs` (default 60 s)
   * and with its attempt incremented, so two API replicas never send the same one at once.
   */
  takeDueWebhooks(limit: number, leaseMs?: number): Promise<WebhookDelivery[]>;
  markWebhookDelivered(id: number, attempt: number): Promise<boolean>;
  /** `retryInMs` null = give up (status failed); otherwise due again after that delay. */
  markWebhookFailed(id: number, attempt: number, failure: { error: string; retryInMs: number | null }): Promise<boolean>;
}

// ---- Dispatcher -------------------------------------------------------------------------

/** One delivery of a dispatch message. Settle it exactly once with ack, nak or term. */
export interface DispatchMessage {
  readonly taskId: string;
  /** The task's attempt when published (the `<taskId>:<attempt>` dedup id). */
  readonly attempt: number;
  /** 1 on first delivery. */
  readonly deliveryCount: number;
  /** The bound on deliveries (-1 = unbounded). `deliveryCount === maxDeliver` is the last one. */
  readonly maxDeliver: number;
  /** Done: never redelivered. */
  ack(): Promise<void>;
  /** Redeliver after `delayMs` (default: at once), unless maxDeliver is reached. */
  nak(delayMs?: number): Promise<void>;
  /** Never redeliver (unrecoverable). */
  term(reason?: string): Promise<void>;
  /** Still working: restart the ack-wait timer (JetStream `+WPI`). */
  working(): Promise<void>;
}

export type DispatchHandler = (message: DispatchMessage) => Promise<void>;

export interface ConsumeOptions {
  /**
   * Delay for the automatic nak when the handler throws. Default 1000 ms.
   * A handler that returns without settling leaves the message to be redelivered after
   * the ack wait, as JetStream does.
   */
  errorNakDelayMs?: number;
}

export interface DispatchSubscription {
  /** Stop fetching; resolves once the in-flight handler (if any) has returned. */
  stop(): Promise<void>;
}

export interface DeadLetter {
  taskId: string;
  attempt: number;
  deliveryCount: number;
}

export interface DispatcherStats {
  /** Published, not yet delivered (or waiting for a nak delay / redelivery). */
  waiting: number;
  /** Delivered and not yet settled. */
  inFlight: number;
}

export interface Dispatcher {
  /** Publishes with dedup id `<taskId>:<attempt>`; `duplicate` when already published. */
  publish(taskId: string, attempt: number): Promise<{ duplicate: boolean }>;
  /**
   * Runs `handler` for one message at a time (one in flight per subscription: one task per
   * GPU); the next is fetched only after the handler returns.
   */
  consume(handler: DispatchHandler, options?: ConsumeOptions): DispatchSubscription;
  /** Messages that reached maxDeliver without an ack or term (the DLQ path). */
  onMaxDeliveries(fn: (deadLetter: DeadLetter) => void): Promise<Unsubscribe>;
  stats(): Promise<DispatcherStats>;
  /** Stops consumers and listeners; does not close a connection the caller owns. */
  close(): Promise<void>;
}

// ---- EventBus ---------------------------------------------------------------------------

export interface SubscribeOptions {
  /**
   * Replay retained events with seq > afterSeq, then continue live, with no gap and no
   * duplicate. 0 = everything retained. Undefined = live only.
   */
  afterSeq?: number;
}

export interface EventBus {
  /** Publishes and returns the envelope with its assigned seq. */
  emit(taskId: string, event: TaskEvent): Promise<TaskEventEnvelope>;
  /** Envelopes for one task, in seq order. */
  subscribe(taskId: string, fn: (envelope: TaskEventEnvelope) => void, options?: SubscribeOptions): Promise<Unsubscribe>;
  /** Retained envelopes with seq > afterSeq (retention is bounded; Postgres is the truth). */
  replay(taskId: string, afterSeq: number): Promise<TaskEventEnvelope[]>;
  /** Stop/skip a task (null = the running one, FooocusAPI semantics). Best effort. */
  control(taskId: string | null, action: ControlAction): Promise<void>;
  onControl(fn: (message: ControlMessage) => void): Promise<Unsubscribe>;
  close(): Promise<void>;
}

// ---- BlobStore --------------------------------------------------------------------------

/**
 * Keys are `/`-separated relative paths (`outputs/2024-07-05/x.png`, `inputs/<sha>.png`).
 * Every adapter refuses absolute keys, `..`/`.` segments, empty segments, backslashes and
 * control characters (path traversal).
 */
export interface BlobStore {
  /** Bytes, or a stream of chunks (uploaded without buffering it whole). Overwrites. */
  put(key: string, body: Uint8Array | AsyncIterable<Uint8Array>, contentType: string): Promise<void>;
  get(key: string): Promise<{ bytes: Uint8Array; contentType: string } | null>;
  /** Missing keys are ignored. */
  delete(keys: readonly string[]): Promise<void>;
  exists(key: string): Promise<boolean>;
}
