// The Dispatcher contract, run unchanged against JetStream (real nats-server from the
// harness) and the in-process queue. Timers are shrunk (ack wait 1 s) so the redelivery
// paths of reliability.md B1 run in seconds.
import { randomBytes } from 'node:crypto';
import { connect } from '@nats-io/transport-node';
import { describe, expect, it } from 'vitest';
import type { DeadLetter, DispatchMessage, Dispatcher } from '../../services/core/ports.ts';
import { createJetStreamDispatcher } from '../../services/infra/jetstream/createJetStreamDispatcher.ts';
import { createInProcessDispatcher } from '../../services/infra/inprocess/createInProcessDispatcher.ts';
import { natsForSuite, noSetup, useContractBackend, type ContractBackend } from '../harness/contractBackends.ts';
import { startNats } from '../harness/startNats.ts';
import { sleep, waitFor } from '../harness/waitFor.ts';

interface Settings {
  ackWaitMs?: number;
  maxDeliver?: number;
}

const nats = natsForSuite();

const backends: ContractBackend<Dispatcher, Settings>[] = [
  {
    name: 'jetstream',
    setup: nats.setup,
    teardown: nats.teardown,
    async make({ ackWaitMs = 1_000, maxDeliver = 5 }) {
      const name = `T${randomBytes(4).toString('hex')}`; // a fresh stream and consumer per test
      return await createJetStreamDispatcher({
        nc: nats.connection(),
        stream: name,
        subjectPrefix: `tasks.${name}`,
        durable: `workers-${name}`,
        ackWaitMs,
        maxDeliver,
        storage: 'memory',
        fetchExpiresMs: 1_000,
      });
    },
  },
  {
    name: 'in-process',
    ...noSetup,
    async make({ ackWaitMs = 1_000, maxDeliver = 5 }) {
      return createInProcessDispatcher({ ackWaitMs, maxDeliver });
    },
  },
];

interface Delivery {
  taskId: string;
  attempt: number;
  deliveryCount: number;
  at: number;
}

describe.each(backends)('Dispatcher on $name', (backend) => {
  const open = useContractBackend(backend);
  const make = (settings: Settings = {}) => open(settings);
  const record = (deliveries: Delivery[], m: DispatchMessage) =>
    deliveries.push({ taskId: m.taskId, attempt: m.attempt, deliveryCount: m.deliveryCount, at: Date.now() });

  it('publish is deduplicated by <task_id>:<attempt>; each distinct message is delivered once and ack removes it', async () => {
    const d = await make();
    expect(await d.publish('task1', 0)).toEqual({ duplicate: false });
    expect(await d.publish('task1', 0)).toEqual({ duplicate: true });
    expect(await d.publish('task1', 1)).toEqual({ duplicate: false });
    expect(await d.stats()).toEqual({ waiting: 2, inFlight: 0 });

    const deliveries: Delivery[] = [];
    d.consume(async (m) => {
      record(deliveries, m);
      await m.ack();
    });
    await waitFor(() => deliveries.length === 2);
    expect(deliveries.map((x) => [x.taskId, x.attempt, x.deliveryCount])).toEqual([
      ['task1', 0, 1],
      ['task1', 1, 1],
    ]);
    expect(await d.publish('task1', 0)).toEqual({ duplicate: true }); // still deduped after the ack
    await sleep(1_300); // past ack wait: an acked message never comes back
    expect(deliveries).toHaveLength(2);
    expect(await d.stats()).toEqual({ waiting: 0, inFlight: 0 });
  });

  it('nak(delay) redelivers after the delay with deliveryCount 2', async () => {
    const d = await make({ ackWaitMs: 60_000 }); // a redelivery can only come from the nak
    await d.publish('task2', 0);
    const deliveries: Delivery[] = [];
    d.consume(async (m) => {
      record(deliveries, m);
      if (m.deliveryCount === 1) await m.nak(300);
      else await m.ack();
    });
    await waitFor(() => deliveries.length === 2);
    expect(deliveries[1].deliveryCount).toBe(2);
    expect(deliveries[1].at - deliveries[0].at).toBeGreaterThanOrEqual(270);
  });

  it('an unsettled delivery is redelivered after ack_wait', async () => {
    const d = await make({ ackWaitMs: 1_000 });
    await d.publish('task3', 0);
    const deliveries: Delivery[] = [];
    d.consume(async (m) => {
      record(deliveries, m);
      if (m.deliveryCount > 1) await m.ack(); // first delivery: "crash" without settling
    });
    await waitFor(() => deliveries.length === 2);
    expect(deliveries[1].deliveryCount).toBe(2);
    expect(deliveries[1].at - deliveries[0].at).toBeGreaterThanOrEqual(900);
  });

  it('working() keeps a job longer than ack_wait from being redelivered to another consumer', async () => {
    const d = await make({ ackWaitMs: 1_000 });
    await d.publish('task4', 0);
    const deliveries: Delivery[] = [];
    const worker = async (m: DispatchMessage) => {
      record(deliveries, m);
      for (let i = 0; i < 5; i++) {
        await sleep(350);
        await m.working();
      }
      await m.ack();
    };
    d.consume(worker);
    d.consume(worker); // a second, idle worker that would get a redelivery
    await waitFor(() => deliveries.length === 1);
    await sleep(2_000);
    expect(deliveries.map((x) => x.deliveryCount)).toEqual([1]);
  });

  it('maxDeliver bounds deliveries, then reports a dead letter', async () => {
    const d = await make({ maxDeliver: 2 });
    const dead: DeadLetter[] = [];
    await d.onMaxDeliveries((x) => dead.push(x));
    await d.publish('task5', 3);
    const deliveries: Delivery[] = [];
    d.consume(async (m) => {
      record(deliveries, m);
      expect(m.maxDeliver).toBe(2);
      await m.nak(50);
    });
    await waitFor(() => dead.length === 1);
    expect(dead).toEqual([{ taskId: 'task5', attempt: 3, deliveryCount: 2 }]);
    await sleep(300);
    expect(deliveries.map((x) => x.deliveryCount)).toEqual([1, 2]);
    expect(await d.stats()).toEqual({ waiting: 0, inFlight: 0 });
  });

  it('one subscription holds one message at a time and does not prefetch the next', async () => {
    const d = await make();
    for (const id of ['a1', 'a2', 'a3']) await d.publish(id, 0);
    let active = 0;
    let maxActive = 0;
    const inFlightSeen: number[] = [];
    const order: string[] = [];
    let done = 0;
    d.consume(async (m) => {
      active++;
      maxActive = Math.max(maxActive, active);
      order.push(m.taskId);
      inFlightSeen.push((await d.stats()).inFlight);
      await sleep(100);
      active--;
      await m.ack();
      done++;
    });
    await waitFor(() => done === 3);
    expect(order).toEqual(['a1', 'a2', 'a3']);
    expect(maxActive).toBe(1);
    expect(inFlightSeen).toEqual([1, 1, 1]);
  });

  it('a throwing handler gets its message nak-ed and redelivered; stop() waits for the handler', async () => {
    const d = await make();
    await d.publish('task7', 0);
    const deliveries: Delivery[] = [];
    const sub = d.consume(
      async (m) => {
        record(deliveries, m);
        if (m.deliveryCount === 1) throw new Error('engine exploded');
        await sleep(200);
        await m.ack();
      },
      { errorNakDelayMs: 100 },
    );
    await waitFor(() => deliveries.length === 2);
    const stoppedAt = Date.now();
    await sub.stop();
    expect(Date.now() - stoppedAt).toBeGreaterThanOrEqual(100); // waited for the in-flight handler
    expect(await d.stats()).toEqual({ waiting: 0, inFlight: 0 });
    await d.publish('task8', 0);
    await sleep(300);
    expect(deliveries).toHaveLength(2); // nothing consumed after stop
  });
});

describe('JetStream dispatcher across a nats-server restart', () => {
  it('a running consumer resumes after the server restarts', async () => {
    const server = await startNats();
    const conn = await connect({ servers: server.url, maxReconnectAttempts: -1, reconnectTimeWait: 100 });
    const errors: unknown[] = [];
    try {
      const d = await createJetStreamDispatcher({
        nc: conn,
        stream: 'RESTART',
        subjectPrefix: 'restart',
        durable: 'w',
        ackWaitMs: 1_000,
        storage: 'file',
        fetchExpiresMs: 1_000,
        publishTimeoutMs: 1_000,
        onError: (e) => errors.push(e),
      });
      const got: string[] = [];
      d.consume(async (m) => {
        got.push(m.taskId);
        await m.ack();
      });
      await d.publish('before', 0);
      await waitFor(() => got.length === 1);

      await server.stopServer();
      await sleep(300);
      await server.startServer();
      // Around a reconnect a publish can time out with its message lost; the outbox relay
      // retries with the same Nats-Msg-Id (dedup makes the retry safe). Do the same here.
      for (let tries = 0; ; tries++) {
        try {
          await d.publish('after', 0);
          break;
        } catch (err) {
          if (tries >= 5) throw err;
        }
      }
      await waitFor(() => got.length === 2, 10_000);
      expect(got).toEqual(['before', 'after']);
      await d.close();
    } finally {
      await conn.close();
      await server.stop();
    }
  });
});
