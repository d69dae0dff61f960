/** Queue depth from a real nats-server's JetStream consumer info (the harness starts one). */
import { AckPolicy, jetstream, jetstreamManager } from '@nats-io/jetstream';
import { connect, type NatsConnection } from '@nats-io/transport-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startNats, type NatsHandle } from '../../test/harness/startNats.ts';
import { JetStreamQueueDepth } from './jetstreamQueueDepth.ts';

describe('JetStreamQueueDepth', () => {
  let nats: NatsHandle;
  let nc: NatsConnection;

  beforeAll(async () => {
    nats = await startNats();
    nc = await connect({ servers: nats.url });
  });
  afterAll(async () => {
    await nc?.close();
    await nats?.stop();
  });

  it('reports undelivered tasks as queued and unacked deliveries as running', async () => {
    const jsm = await jetstreamManager(nc);
    await jsm.streams.add({ name: 'TASKS_A', subjects: ['tasks_a.>'] });
    const depth = await JetStreamQueueDepth.connect({ servers: nats.url, stream: 'TASKS_A', consumer: 'workers' });
    try {
      // Before any worker created the consumer, the stream's messages count as queued.
      const js = jetstream(nc);
      for (let i = 0; i < 3; i++) await js.publish('tasks_a.new', `task-${i}`);
      expect(await depth.readDepth()).toEqual({ queued: 3, running: 0 });

      await jsm.consumers.add('TASKS_A', { durable_name: 'workers', ack_policy: AckPolicy.Explicit, ack_wait: 30_000_000_000, max_ack_pending: 10 });
      expect(await depth.readDepth()).toEqual({ queued: 3, running: 0 });

      // A worker fetches one task and holds it (no ack yet).
      const consumer = await js.consumers.get('TASKS_A', 'workers');
      const msg = await consumer.next({ expires: 2000 });
      expect(msg).not.toBeNull();
      expect(await depth.readDepth()).toEqual({ queued: 2, running: 1 });

      msg!.ack();
      await nc.flush();
      for (let i = 0; i < 50; i++) {
        if ((await depth.readDepth()).running === 0) break;
        await new Promise((r) => setTimeout(r, 20));
      }
      expect(await depth.readDepth()).toEqual({ queued: 2, running: 0 });
    } finally {
      await depth.close();
    }
  });

  it('reports an empty queue when neither stream nor consumer exists yet', async () => {
    const depth = await JetStreamQueueDepth.connect({ servers: nats.url, stream: 'NOT_THERE', consumer: 'workers' });
    try {
      expect(await depth.readDepth()).toEqual({ queued: 0, running: 0 });
    } finally {
      await depth.close();
    }
  });
});
