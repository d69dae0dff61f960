// Dispatcher for the embedded mode: an in-memory queue that mirrors the JetStream work queue
// closely enough that the worker's consume loop cannot tell them apart (the same integration
// suite runs against both):
// - publish dedup on `<taskId>:<attempt>` within duplicateWindowMs, even after an ack;
// - explicit settling: ack/term remove, nak(delay) redelivers after the delay, working()
//   restarts the ack-wait timer, and an unsettled delivery is redelivered after ackWaitMs;
// - maxDeliver bounds deliveries; the message is then dropped and onMaxDeliveries told;
// - one message in flight per subscription, FIFO by publish order among available messages.
// One deliberate difference: each delivery has a token, and settling a delivery that was
// already redelivered is ignored (JetStream may apply such a late ack to the redelivery,
// nats-server#4786). Neither matters for correctness: Postgres fences the state changes.
// The queue does not survive a restart; in embedded mode the outbox and the reconciler
// re-dispatch whatever was queued.
import type {
  ConsumeOptions,
  DeadLetter,
  DispatchHandler,
  DispatchMessage,
  Dispatcher,
  DispatcherStats,
  DispatchSubscription,
  Unsubscribe,
} from '../../core/ports.ts';

export interface InProcessDispatcherOptions {
  /** Redelivery after this long without ack/nak/working. Default 30 000 ms. */
  ackWaitMs?: number;
  /** Deliveries per message before it is dropped as dead. Default 5; -1 = unbounded. */
  maxDeliver?: number;
  /** Publish dedup window. Default 120 000 ms. */
  duplicateWindowMs?: number;
  /** Called with handler errors after the automatic nak. */
  onError?: (err: unknown) => void;
}

interface Entry {
  msgId: string;
  order: number;
  taskId: string;
  attempt: number;
  deliveries: number;
  availableAt: number;
  inFlight: boolean;
  token: object | null;
  ackTimer: NodeJS.Timeout | null;
}

export function createInProcessDispatcher(options: InProcessDispatcherOptions = {}): Dispatcher {
  const { ackWaitMs = 30_000, maxDeliver = 5, duplicateWindowMs = 120_000, onError = () => {} } = options;
  const entries = new Map<string, Entry>();
  const published = new Map<string, number>(); // msgId → dedup expiry
  const deadListeners = new Set<(d: DeadLetter) => void>();
  const subscriptions = new Set<DispatchSubscription>();
  const timers = new Set<NodeJS.Timeout>();
  let waiters: (() => void)[] = [];
  let order = 0;
  let closed = false;

  const wake = () => {
    const ready = waiters;
    waiters = [];
    for (const w of ready) w();
  };
  const later = (delayMs: number, fn: () => void) => {
    const t = setTimeout(() => {
      timers.delete(t);
      fn();
    }, Math.max(0, delayMs));
    t.unref();
    timers.add(t);
    return t;
  };
  const clearAckTimer = (e: Entry) => {
    if (e.ackTimer) {
      clearTimeout(e.ackTimer);
      timers.delete(e.ackTimer);
      e.ackTimer = null;
    }
  };

  /** The delivery ended without ack/term: redeliver after `delayMs`, or drop it as dead. */
  function release(e: Entry, delayMs: number) {
    clearAckTimer(e);
    e.inFlight = false;
    e.token = null;
    if (maxDeliver > 0 && e.deliveries >= maxDeliver) {
      entries.delete(e.msgId);
      for (const fn of deadListeners) fn({ taskId: e.taskId, attempt: e.attempt, deliveryCount: e.deliveries });
      return;
    }
    e.availableAt = Date.now() + delayMs;
    wake();
  }

  /** The next deliverable entry, or how long until the earliest delayed one becomes deliverable. */
  function takeAvailable(): { entry: Entry } | { waitMs: number | null } {
    const now = Date.now();
    let best: Entry | null = null;
    let nextAt: number | null = null;
    for (const e of entries.values()) {
      if (e.inFlight) continue;
      if (e.availableAt <= now) {
        if (!best || e.order < best.order) best = e;
      } else if (nextAt === null || e.availableAt < nextAt) {
        nextAt = e.availableAt;
      }
    }
    if (best) return { entry: best };
    return { waitMs: nextAt === null ? null : nextAt - now };
  }

  function deliver(e: Entry): DispatchMessage & { settled: boolean } {
    const token = {};
    e.inFlight = true;
    e.token = token;
    e.deliveries++;
    const armAckWait = () => {
      clearAckTimer(e);
      e.ackTimer = later(ackWaitMs, () => {
        if (e.token === token) release(e, 0);
      });
    };
    armAckWait();
    const current = () => e.token === token && entries.get(e.msgId) === e;
    const message = {
      settled: false,
      taskId: e.taskId,
      attempt: e.attempt,
      deliveryCount: e.deliveries,
      maxDeliver,
      async ack() {
        message.settled = true;
        if (!current()) return;
        clearAckTimer(e);
        entries.delete(e.msgId);
      },
      async term() {
        await message.ack();
      },
      async nak(delayMs = 0) {
        message.settled = true;
        if (current()) release(e, delayMs);
      },
      async working() {
        if (current()) armAckWait();
      },
    };
    return message;
  }

  function consume(handler: DispatchHandler, consumeOptions: ConsumeOptions = {}): DispatchSubscription {
    const errorNakDelayMs = consumeOptions.errorNakDelayMs ?? 1_000;
    let stopping = false;
    let interrupt: () => void = () => {};
    const loop = (async () => {
      while (!stopping && !closed) {
        const next = takeAvailable();
        if (!('entry' in next)) {
          // A delayed entry gets its own timer here: the wake() armed by nak(delay) can fire a
          // millisecond before Date.now() reaches availableAt (timers run on libuv's cached
          // loop clock), and a loop that only waited for wake() would then sleep forever.
          await new Promise<void>((resolve) => {
            const timer = next.waitMs === null ? null : setTimeout(resolve, next.waitMs + 1);
            timer?.unref();
            const done = () => {
              if (timer) clearTimeout(timer);
              resolve();
            };
            interrupt = done;
            waiters.push(done);
          });
          continue;
        }
        const message = deliver(next.entry);
        try {
          await handler(message);
        } catch (err) {
          onError(err);
          if (!message.settled) await message.nak(errorNakDelayMs);
        }
      }
    })();
    const subscription: DispatchSubscription = {
      async stop() {
        stopping = true;
        interrupt();
        await loop;
        subscriptions.delete(subscription);
      },
    };
    subscriptions.add(subscription);
    return subscription;
  }

  return {
    async publish(taskId, attempt) {
      const msgId = `${taskId}:${attempt}`;
      const now = Date.now();
      for (const [id, expiry] of published) if (expiry <= now) published.delete(id);
      if (published.has(msgId)) return { duplicate: true };
      published.set(msgId, now + duplicateWindowMs);
      entries.set(msgId, {
        msgId,
        order: order++,
        taskId,
        attempt,
        deliveries: 0,
        availableAt: now,
        inFlight: false,
        token: null,
        ackTimer: null,
      });
      wake();
      return { duplicate: false };
    },

    consume,

    async onMaxDeliveries(fn): Promise<Unsubscribe> {
      deadListeners.add(fn);
      return async () => {
        deadListeners.delete(fn);
      };
    },

    async stats(): Promise<DispatcherStats> {
      let waiting = 0;
      let inFlight = 0;
      for (const e of entries.values()) e.inFlight ? inFlight++ : waiting++;
      return { waiting, inFlight };
    },

    async close() {
      closed = true;
      await Promise.all([...subscriptions].map((s) => s.stop()));
      for (const t of timers) clearTimeout(t);
      timers.clear();
      deadListeners.clear();
    },
  };
}
