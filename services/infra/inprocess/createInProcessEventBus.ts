// EventBus for the embedded mode: listeners in a Map plus a bounded per-task replay buffer.
//
// - Sequence numbers come from one process-wide counter anchored to the clock in
//   microseconds (seq = max(last + 1, Date.now() * 1000)). They are monotonic per task, as
//   SSE resume needs, and stay monotonic across a restart of the embedded process: a client
//   reconnecting with a Last-Event-ID from before the restart still gets everything after it.
// - Delivery is synchronous inside emit(), and subscribe({ afterSeq }) replays the buffer and
//   attaches the listener in the same tick, so there is no gap and no duplicate between
//   replay and live (the property the JetStream bus gets from one ordered consumer).
// - Retention: the newest `maxEventsPerTask` events of each task, for at most `maxTasks`
//   tasks (least recently active dropped first) and `retentionMs` after a task's last event.
//   Postgres remains the truth; the SSE route falls back to the task row.
// - A second terminal event for a task is not stored again: emit returns the first (I4).
import type { EventBus, SubscribeOptions, Unsubscribe } from '../../core/ports.ts';
import { isTerminalEvent, type ControlMessage, type TaskEventEnvelope } from '../../core/task/taskEvents.ts';

export interface InProcessEventBusOptions {
  /** Events kept per task for replay. Default 1000. */
  maxEventsPerTask?: number;
  /** Tasks kept for replay. Default 10 000. */
  maxTasks?: number;
  /** Replay kept this long after a task's last event. Default 3 600 000 ms (1 h). */
  retentionMs?: number;
  /** Called when a listener throws (the others still get the event). */
  onError?: (err: unknown) => void;
}

interface TaskLog {
  events: TaskEventEnvelope[];
  lastAt: number;
}

export function createInProcessEventBus(options: InProcessEventBusOptions = {}): EventBus {
  const { maxEventsPerTask = 1_000, maxTasks = 10_000, retentionMs = 3_600_000, onError = () => {} } = options;
  const logs = new Map<string, TaskLog>(); // insertion order = least recently active first
  const listeners = new Map<string, Set<(e: TaskEventEnvelope) => void>>();
  const controlListeners = new Set<(m: ControlMessage) => void>();
  let lastSeq = 0;

  const nextSeq = () => (lastSeq = Math.max(lastSeq + 1, Date.now() * 1000));

  function evict(now: number) {
    for (const [taskId, log] of logs) {
      if (logs.size <= maxTasks && now - log.lastAt <= retentionMs) break;
      logs.delete(taskId);
    }
  }

  const retained = (taskId: string, afterSeq: number) => (logs.get(taskId)?.events ?? []).filter((e) => e.seq > afterSeq);

  return {
    async emit(taskId, event) {
      const now = Date.now();
      // A retried terminal emit returns the stored one (the JetStream bus dedups it by msg id).
      const existing = isTerminalEvent(event) ? logs.get(taskId)?.events.find((e) => isTerminalEvent(e.event)) : undefined;
      if (existing) return existing;
      const envelope: TaskEventEnvelope = { taskId, seq: nextSeq(), at: now, event };
      const log = logs.get(taskId) ?? { events: [], lastAt: now };
      logs.delete(taskId);
      log.events.push(envelope);
      if (log.events.length > maxEventsPerTask) log.events.splice(0, log.events.length - maxEventsPerTask);
      log.lastAt = now;
      logs.set(taskId, log);
      evict(now);
      for (const fn of [...(listeners.get(taskId) ?? [])]) {
        try {
          fn(envelope);
        } catch (err) {
          onError(err);
        }
      }
      return envelope;
    },

    async subscribe(taskId, fn, subscribeOptions: SubscribeOptions = {}): Promise<Unsubscribe> {
      if (subscribeOptions.afterSeq !== undefined) {
        for (const envelope of retained(taskId, subscribeOptions.afterSeq)) fn(envelope);
      }
      const set = listeners.get(taskId) ?? new Set();
      set.add(fn);
      listeners.set(taskId, set);
      return async () => {
        set.delete(fn);
        if (set.size === 0 && listeners.get(taskId) === set) listeners.delete(taskId);
      };
    },

    async replay(taskId, afterSeq) {
      return retained(taskId, afterSeq);
    },

    async control(taskId, action) {
      for (const fn of [...controlListeners]) {
        try {
          fn({ taskId, action });
        } catch (err) {
          onError(err);
        }
      }
    },

    async onControl(fn): Promise<Unsubscribe> {
      controlListeners.add(fn);
      return async () => {
        controlListeners.delete(fn);
      };
    },

    async close() {
      listeners.clear();
      controlListeners.clear();
      logs.clear();
    },
  };
}
