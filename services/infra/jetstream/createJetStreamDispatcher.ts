// Dispatcher over a JetStream work queue (reliability.md B1). Postgres is the source of
// truth; this is only the delivery mechanism, at-least-once.
//
// - Stream: WorkQueue retention (an acked message is removed), subjects `<prefix>.<taskId>`
//   so a canceled task's message could be purged by subject. duplicate_window (default
//   2 min) + `Nats-Msg-Id = <taskId>:<attempt>` make publish idempotent: the outbox relay,
//   the API's direct publish and the reconciler may all publish the same dispatch.
// - Consumer: one durable pull consumer shared by all workers, AckPolicy explicit,
//   ack_wait and max_deliver configurable (defaults 30 s / 5; the server default of -1 would
//   loop a poison message forever).
// - One in flight: each subscription pulls ONE message (fetch max_messages 1) and pulls the
//   next only after the handler returns. consume() would prefetch a second message whose
//   ack_wait ticks while the GPU is busy with the first.
// - Settling: ack uses ackAck (the server confirms it); nak/term/working are flushed. A
//   handler that throws gets nak(errorNakDelayMs); one that returns unsettled is redelivered
//   after ack_wait, as JetStream would. A late ack may land on a redelivery
//   (nats-server#4786): the claim/complete fences in Postgres make that harmless.
// - publish() failures (NATS down, PubAck timeout — around a reconnect the message may be
//   lost) are TransientInfraError: the outbox keeps the dispatch and the relay retries.
// - Max deliveries: the server's MAX_DELIVERIES advisory names the stream sequence; we read
//   the message to learn its task, delete it (a WorkQueue stream would keep it forever) and
//   tell onMaxDeliveries listeners. With several listeners only the one whose read wins the
//   race reports it.
import {
  AckPolicy,
  jetstream,
  jetstreamManager,
  RetentionPolicy,
  StorageType,
  type Consumer,
  type ConsumerMessages,
  type JsMsg,
} from '@nats-io/jetstream';
import type { NatsConnection, Subscription } from '@nats-io/transport-node';
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
import { TransientInfraError } from '../../core/errors.ts';
import { ensureDurableConsumer, ensureStream } from './ensureJetStream.ts';
import { subjectToken } from './subjectToken.ts';

export interface JetStreamDispatcherOptions {
  /** A connected client; the dispatcher never closes it. */
  nc: NatsConnection;
  /** Stream name. Default 'FOOOCUS_TASKS'. */
  stream?: string;
  /** Messages go to `<subjectPrefix>.<taskId>`. Default 'fooocus.tasks'. */
  subjectPrefix?: string;
  /** Durable consumer shared by all workers. Default 'fooocus-workers'. */
  durable?: string;
  /** Redelivery after this long without ack/nak/working. Default 30 000 ms. */
  ackWaitMs?: number;
  /** Deliveries per message before it is dead-lettered. Default 5. */
  maxDeliver?: number;
  /** Publish dedup window. Default 120 000 ms (the server default). */
  duplicateWindowMs?: number;
  /** Storage for the work queue. Default 'file'. */
  storage?: 'file' | 'memory';
  /** Replicas for a clustered server. Default 1. */
  replicas?: number;
  /** How long one pull waits for a message before re-pulling. Default 5000 ms; at least 1000 (nats.js minimum). */
  fetchExpiresMs?: number;
  /** How long publish() waits for the PubAck. Default 5000 ms. Around a reconnect a publish
   *  can time out with its message lost: callers (the outbox relay) retry; dedup makes it safe. */
  publishTimeoutMs?: number;
  /** Called with errors the consume loop survives (fetch failures, handler settle errors). */
  onError?: (err: unknown) => void;
}

const ms = (n: number) => Math.round(n * 1_000_000); // JetStream durations are nanoseconds

interface DispatchPayload {
  taskId: string;
  attempt: number;
}

export async function createJetStreamDispatcher(options: JetStreamDispatcherOptions): Promise<Dispatcher> {
  const {
    nc,
    stream = 'FOOOCUS_TASKS',
    subjectPrefix = 'fooocus.tasks',
    durable = 'fooocus-workers',
    ackWaitMs = 30_000,
    maxDeliver = 5,
    duplicateWindowMs = 120_000,
    storage = 'file',
    replicas = 1,
    fetchExpiresMs = 5_000,
    publishTimeoutMs = 5_000,
    onError = () => {},
  } = options;

  const jsm = await jetstreamManager(nc);
  const js = jetstream(nc);
  await ensureStream(jsm, {
    name: stream,
    subjects: [`${subjectPrefix}.>`],
    retention: RetentionPolicy.Workqueue,
    storage: storage === 'memory' ? StorageType.Memory : StorageType.File,
    duplicate_window: ms(duplicateWindowMs),
    num_replicas: replicas,
  });
  await ensureDurableConsumer(jsm, stream, {
    durable_name: durable,
    ack_policy: AckPolicy.Explicit,
    ack_wait: ms(ackWaitMs),
    max_deliver: maxDeliver,
    filter_subject: `${subjectPrefix}.>`,
  });

  const subscriptions = new Set<DispatchSubscription>();
  const advisorySubs = new Set<Subscription>();

  function wrap(m: JsMsg, payload: DispatchPayload): DispatchMessage & { settled: boolean } {
    const message = {
      settled: false,
      taskId: payload.taskId,
      attempt: payload.attempt,
      deliveryCount: m.info.deliveryCount,
      maxDeliver,
      async ack() {
        message.settled = true;
        await m.ackAck();
      },
      async nak(delayMs?: number) {
        message.settled = true;
        m.nak(delayMs);
        await nc.flush();
      },
      async term(reason?: string) {
        message.settled = true;
        m.term(reason);
        await nc.flush();
      },
      async working() {
        m.working();
        await nc.flush();
      },
    };
    return message;
  }

  function consume(handler: DispatchHandler, consumeOptions: ConsumeOptions = {}): DispatchSubscription {
    const errorNakDelayMs = consumeOptions.errorNakDelayMs ?? 1_000;
    let stopping = false;
    let pull: ConsumerMessages | null = null;

    const loop = (async () => {
      let consumer: Consumer | null = null;
      while (!stopping) {
        let received: JsMsg | null = null;
        try {
          // Looked up inside the loop so a worker that starts while NATS is down recovers.
          consumer ??= await js.consumers.get(stream, durable);
          pull = await consumer.fetch({ max_messages: 1, expires: Math.max(1_000, fetchExpiresMs) });
          if (stopping) pull.stop();
          for await (const m of pull) received = m;
        } catch (err) {
          if (stopping) break;
          onError(err);
          consumer = null;
          await new Promise((r) => setTimeout(r, 500));
          continue;
        } finally {
          pull = null;
        }
        if (!received) continue;
        if (stopping) {
          received.nak(); // fetched as we stopped: hand it straight back
          break;
        }
        let payload: DispatchPayload;
        try {
          payload = received.json<DispatchPayload>();
          if (typeof payload?.taskId !== 'string' || typeof payload.attempt !== 'number') throw new Error('bad payload');
        } catch (err) {
          onError(err);
          received.term('undecodable dispatch message');
          continue;
        }
        const message = wrap(received, payload);
        try {
          await handler(message);
        } catch (err) {
          onError(err);
          if (!message.settled) await message.nak(errorNakDelayMs).catch(onError);
        }
      }
    })();

    const subscription: DispatchSubscription = {
      async stop() {
        stopping = true;
        pull?.stop();
        await loop.catch(onError);
        subscriptions.delete(subscription);
      },
    };
    subscriptions.add(subscription);
    loop.catch(onError);
    return subscription;
  }

  return {
    async publish(taskId, attempt) {
      const payload: DispatchPayload = { taskId, attempt };
      const subject = `${subjectPrefix}.${subjectToken(taskId)}`;
      try {
        const ack = await js.publish(subject, JSON.stringify(payload), { msgID: `${taskId}:${attempt}`, timeout: publishTimeoutMs });
        return { duplicate: ack.duplicate };
      } catch (err) {
        throw new TransientInfraError(`dispatch publish failed: ${(err as Error).message}`, { cause: err });
      }
    },

    consume,

    async onMaxDeliveries(fn: (deadLetter: DeadLetter) => void): Promise<Unsubscribe> {
      const sub = nc.subscribe(`$JS.EVENT.ADVISORY.CONSUMER.MAX_DELIVERIES.${stream}.${durable}`, {
        callback: (err, msg) => {
          if (err) return onError(err);
          void (async () => {
            const advisory = msg.json<{ stream_seq: number; deliveries: number }>();
            const stored = await jsm.streams.getMessage(stream, { seq: advisory.stream_seq }).catch(() => null);
            if (!stored) return; // another listener took it
            const deleted = await jsm.streams.deleteMessage(stream, advisory.stream_seq, false).catch(() => false);
            if (!deleted) return;
            const payload = stored.json<DispatchPayload>();
            fn({ taskId: payload.taskId, attempt: payload.attempt, deliveryCount: advisory.deliveries });
          })().catch(onError);
        },
      });
      advisorySubs.add(sub);
      await nc.flush();
      return async () => {
        advisorySubs.delete(sub);
        sub.unsubscribe();
      };
    },

    async stats(): Promise<DispatcherStats> {
      const info = await jsm.consumers.info(stream, durable);
      return { waiting: info.num_pending, inFlight: info.num_ack_pending };
    },

    async close() {
      await Promise.all([...subscriptions].map((s) => s.stop()));
      for (const sub of advisorySubs) sub.unsubscribe();
      advisorySubs.clear();
    },
  };
}
