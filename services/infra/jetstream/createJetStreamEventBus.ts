// EventBus over NATS: task events in a JetStream stream, control messages on core NATS.
//
// Choice (documented alternative: core NATS for live progress + JetStream for terminal
// events only): EVERY event goes into one limits-retention stream on `<prefix>.<taskId>`,
// and every subscriber reads it through its own ordered consumer filtered to that subject.
// - One total order per task, from the stream: seq IS the stream sequence (monotonic per
//   task, not contiguous). Resume after `Last-Event-ID: n` is "start at n+1" on the same
//   consumer that then continues live: no gap and no duplicate between replay and live,
//   on any API replica. A split live/stored design has to merge two sources with two
//   numbering schemes and cannot replay the progress a reconnecting client missed.
// - The terminal event is stored like the rest, so a client that connects after the task
//   ended still gets it (and Postgres remains the fallback once max_age has passed).
// - Cost: progress (with previews, tens of KB each) is written to the stream. It is bounded
//   by max_age (default 1 h), max_msgs_per_subject (default 1000 per task; the oldest go
//   first, never the terminal event, which is last) and optional max_bytes; workers should
//   throttle previews. Memory storage is an option where losing replay on a NATS restart
//   is acceptable.
// - Ordered consumers are ephemeral, in memory, no acks; each subscribe creates one and
//   unsubscribe deletes it (the server would also reap it after 5 min of inactivity).
// Control (stop/skip) is best effort, as in FooocusAPI: core NATS publish on one subject;
// cancel itself is durable through Postgres (heartbeat() returns false).
import { DeliverPolicy, DiscardPolicy, jetstream, jetstreamManager, RetentionPolicy, StorageType, type JsMsg } from '@nats-io/jetstream';
import type { NatsConnection, Subscription } from '@nats-io/transport-node';
import type { EventBus, SubscribeOptions, Unsubscribe } from '../../core/ports.ts';
import { isTerminalEvent, type ControlMessage, type TaskEvent, type TaskEventEnvelope } from '../../core/task/taskEvents.ts';
import { TransientInfraError } from '../../core/errors.ts';
import { ensureStream } from './ensureJetStream.ts';
import { subjectToken } from './subjectToken.ts';

/** How long a replay may wait for events the stream is known to hold. */
const REPLAY_DEADLINE_MS = 15_000;

export interface JetStreamEventBusOptions {
  /** A connected client; the bus never closes it. */
  nc: NatsConnection;
  /** Stream name. Default 'FOOOCUS_EVENTS'. */
  stream?: string;
  /** Events go to `<subjectPrefix>.<taskId>`. Default 'events'. */
  subjectPrefix?: string;
  /** Core NATS subject for stop/skip. Default 'fooocus.control'. */
  controlSubject?: string;
  /** Replay horizon. Default 3 600 000 ms (1 h). */
  maxAgeMs?: number;
  /** Events kept per task. Default 1000. */
  maxEventsPerTask?: number;
  /** Cap on the whole stream, oldest dropped first. Default -1 (none). */
  maxBytes?: number;
  /** Default 'file'. */
  storage?: 'file' | 'memory';
  /** Default 1. */
  replicas?: number;
  /** Called with errors a subscription survives (e.g. an undecodable message). */
  onError?: (err: unknown) => void;
}

interface StoredEvent {
  at: number;
  event: TaskEvent;
}

const ns = (ms: number) => Math.round(ms * 1_000_000);

export async function createJetStreamEventBus(options: JetStreamEventBusOptions): Promise<EventBus> {
  const {
    nc,
    stream = 'FOOOCUS_EVENTS',
    subjectPrefix = 'events',
    controlSubject = 'fooocus.control',
    maxAgeMs = 3_600_000,
    maxEventsPerTask = 1_000,
    maxBytes = -1,
    storage = 'file',
    replicas = 1,
    onError = () => {},
  } = options;
  const jsm = await jetstreamManager(nc);
  const js = jetstream(nc);
  await ensureStream(jsm, {
    name: stream,
    subjects: [`${subjectPrefix}.>`],
    retention: RetentionPolicy.Limits,
    discard: DiscardPolicy.Old,
    storage: storage === 'memory' ? StorageType.Memory : StorageType.File,
    max_age: ns(maxAgeMs),
    max_msgs_per_subject: maxEventsPerTask,
    max_bytes: maxBytes,
    duplicate_window: ns(Math.min(120_000, maxAgeMs)),
    num_replicas: replicas,
  });

  const subjectOf = (taskId: string) => `${subjectPrefix}.${subjectToken(taskId)}`;
  const closers = new Set<() => Promise<void>>();
  const controlSubs = new Set<Subscription>();

  const decode = (taskId: string, m: JsMsg): TaskEventEnvelope => {
    const stored = m.json<StoredEvent>();
    return { taskId, seq: m.seq, at: stored.at, event: stored.event };
  };

  async function orderedConsumer(taskId: string, afterSeq: number | undefined) {
    return await js.consumers.get(stream, {
      filter_subjects: subjectOf(taskId),
      ...(afterSeq === undefined
        ? { deliver_policy: DeliverPolicy.New }
        : { deliver_policy: DeliverPolicy.StartSequence, opt_start_seq: afterSeq + 1 }),
    });
  }

  return {
    async emit(taskId, event) {
      const at = Date.now();
      const stored: StoredEvent = { at, event };
      const subject = subjectOf(taskId);
      try {
        // Lifecycle events get a dedup id, so an emit retried after a PubAck timeout cannot
        // store a second terminal event (I4); the duplicate's PubAck carries the original seq.
        const msgID = isTerminalEvent(event) ? `${taskId}:terminal` : event.type === 'started' ? `${taskId}:started:${event.attempt}` : undefined;
        const ack = await js.publish(subject, JSON.stringify(stored), msgID ? { msgID } : undefined);
        return { taskId, seq: ack.seq, at, event };
      } catch (err) {
        throw new TransientInfraError(`event publish failed: ${(err as Error).message}`, { cause: err });
      }
    },

    async subscribe(taskId, fn, subscribeOptions: SubscribeOptions = {}): Promise<Unsubscribe> {
      const consumer = await orderedConsumer(taskId, subscribeOptions.afterSeq);
      const messages = await consumer.consume();
      const done = (async () => {
        for await (const m of messages) {
          try {
            fn(decode(taskId, m));
          } catch (err) {
            onError(err);
          }
        }
      })().catch(onError);
      const close = async () => {
        closers.delete(close);
        messages.stop();
        await done;
        await consumer.delete().catch(() => {}); // ephemeral anyway; don't wait for the reaper
      };
      closers.add(close);
      return close;
    },

    async replay(taskId, afterSeq) {
      // The newest stored event for this task tells us where to stop (and whether to start:
      // fetch() would otherwise wait out its expiry when there is nothing to read).
      const last = await jsm.streams.getMessage(stream, { last_by_subj: subjectOf(taskId) }).catch(() => null);
      if (!last || last.seq <= afterSeq) return [];
      const consumer = await orderedConsumer(taskId, afterSeq);
      const out: TaskEventEnvelope[] = [];
      // Events up to last.seq are known to exist, so an empty fetch (a slow server or an
      // overloaded box) is retried until a deadline rather than read as "nothing to replay".
      const deadline = Date.now() + REPLAY_DEADLINE_MS;
      try {
        while (true) {
          const batch = await consumer.fetch({ max_messages: 256, expires: 2_000 });
          let received = 0;
          for await (const m of batch) {
            received++;
            out.push(decode(taskId, m));
            if (m.seq >= last.seq) batch.stop();
          }
          if (out.length > 0 && out.at(-1)!.seq >= last.seq) break;
          if (received === 0 && Date.now() >= deadline) {
            throw new TransientInfraError(`event replay for ${taskId} stalled before seq ${last.seq}`);
          }
        }
      } finally {
        await consumer.delete().catch(() => {});
      }
      return out;
    },

    async control(taskId, action) {
      const message: ControlMessage = { taskId, action };
      nc.publish(controlSubject, JSON.stringify(message));
      await nc.flush();
    },

    async onControl(fn): Promise<Unsubscribe> {
      const sub = nc.subscribe(controlSubject, {
        callback: (err, msg) => {
          if (err) return onError(err);
          try {
            fn(msg.json<ControlMessage>());
          } catch (e) {
            onError(e);
          }
        },
      });
      controlSubs.add(sub);
      await nc.flush(); // the server knows the subscription before we return
      return async () => {
        controlSubs.delete(sub);
        sub.unsubscribe();
      };
    },

    async close() {
      await Promise.all([...closers].map((c) => c()));
      for (const sub of controlSubs) sub.unsubscribe();
      controlSubs.clear();
    },
  };
}
