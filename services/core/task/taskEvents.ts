// Events in a task's life, as published on the event bus and relayed to SSE and webhooks.
//
// Each published event is wrapped in an envelope carrying a sequence number that is
// monotonic per task (not necessarily contiguous: the JetStream bus uses the stream
// sequence). SSE uses it as the event id, and a reconnect with `Last-Event-ID: n` replays
// exactly the envelopes with seq > n (reliability.md fault case 11).
//
// Exactly one terminal event per task (I4): only the writer whose fenced terminal UPDATE
// matched a row publishes finished/failed/canceled.
import type { TaskError, TaskOutput } from './taskRecord.ts';

export type TaskEvent =
  | { type: 'started'; attempt: number; workerId: string }
  | {
      type: 'progress';
      step: number;
      total: number;
      /** 0–100, Fooocus's cumulative progress number. */
      percent: number;
      message: string;
      /** PNG base64, no `data:` prefix. */
      preview?: string;
    }
  | {
      type: 'finished';
      results: TaskOutput[];
      /** True when it ended early on a FooocusAPI `stop` (status `stopped`). */
      stopped?: boolean;
    }
  | { type: 'failed'; error: TaskError }
  | { type: 'canceled' };

export type TaskEventType = TaskEvent['type'];

export interface TaskEventEnvelope {
  taskId: string;
  /** Monotonic per task; the SSE event id. */
  seq: number;
  /** Publish time, ms since the epoch. */
  at: number;
  event: TaskEvent;
}

/** After this event nothing else is published for the task. */
export function isTerminalEvent(event: TaskEvent): boolean {
  switch (event.type) {
    case 'finished':
    case 'failed':
    case 'canceled':
      return true;
    case 'started':
    case 'progress':
      return false;
    default:
      return assertNever(event);
  }
}

/** Stop/skip for the running task (FooocusAPI `POST /v1/engine/control`, §5.3). */
export type ControlAction = 'stop' | 'skip';

export interface ControlMessage {
  /** The task to act on; null means "whatever task is running" (FooocusAPI semantics). */
  taskId: string | null;
  action: ControlAction;
}

function assertNever(value: never): never {
  throw new Error(`unexpected event: ${JSON.stringify(value)}`);
}
