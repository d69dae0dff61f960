// The outbox relay on both wirings (Postgres + JetStream, PGlite + in-process), with the
// real store and the real dispatcher; deliveries are observed through a real consumer
// (reliability.md I3, fault cases 7 and 8).
import { describe, expect, it } from 'vitest';
import type { Dispatcher, TaskStore } from '../../core/ports.ts';
import { relayOutboxOnce, startOutboxRelay } from './outboxRelay.ts';
import { newTaskId, sleep, useLoopTestWiring, waitFor, wirings } from './testWirings.ts';

describe.each(wirings())('outbox relay on $name', (wiring) => {
  const ctx = useLoopTestWiring(wiring);

  const outboxSize = async () => (await wiring.connection().db.selectFrom('task_outbox').select('id').execute()).length;

  it('a created task reaches the dispatcher exactly once, even with rounds racing on two replicas', async () => {
    const dispatcher = await wiring.dispatcher();
    const seen = ctx.consumeAll(dispatcher);
    const id = newTaskId();
    await wiring.store().create({ id, reqParams: {} });
    const other = await wiring.otherStore();
    const reports = await Promise.all([
      relayOutboxOnce({ store: wiring.store(), dispatcher, registry: ctx.registry }),
      relayOutboxOnce({ store: other, dispatcher, registry: ctx.registry }),
      relayOutboxOnce({ store: wiring.store(), dispatcher, registry: ctx.registry }),
      relayOutboxOnce({ store: other, dispatcher, registry: ctx.registry }),
    ]);
    expect(reports.reduce((n, r) => n + r.published + r.duplicates, 0)).toBe(1);
    await waitFor(() => seen.length >= 1);
    await sleep(500);
    expect(seen).toEqual([{ taskId: id, attempt: 0 }]);
    expect(await outboxSize()).toBe(0);
  });

  it('a relay that dies between publish and markOutboxSent republishes after the lease; the dedup id absorbs it', async () => {
    const dispatcher = await wiring.dispatcher();
    const seen = ctx.consumeAll(dispatcher);
    const id = newTaskId();
    await wiring.store().create({ id, reqParams: {} });
    let crash = true;
    const crashing: Pick<TaskStore, 'takeOutbox' | 'markOutboxSent'> = {
      takeOutbox: (limit, leaseMs) => wiring.store().takeOutbox(limit, leaseMs),
      markOutboxSent: async (ids) => {
        if (crash) {
          crash = false;
          throw new Error('process died');
        }
        await wiring.store().markOutboxSent(ids);
      },
    };
    await expect(relayOutboxOnce({ store: crashing, dispatcher, leaseMs: 100, registry: ctx.registry })).rejects.toThrow('process died');
    expect(await relayOutboxOnce({ store: crashing, dispatcher, leaseMs: 100, registry: ctx.registry })).toMatchObject({ taken: 0 }); // leased
    await sleep(250);
    expect(await relayOutboxOnce({ store: crashing, dispatcher, leaseMs: 100, registry: ctx.registry })).toMatchObject({ taken: 1, duplicates: 1, published: 0 });
    await sleep(500);
    expect(seen).toEqual([{ taskId: id, attempt: 0 }]);
    expect(await outboxSize()).toBe(0);
  });

  it('a failed publish leaves the entry for a later round', async () => {
    const dispatcher = await wiring.dispatcher();
    const seen = ctx.consumeAll(dispatcher);
    const id = newTaskId();
    await wiring.store().create({ id, reqParams: {} });
    let down = true;
    const flaky: Pick<Dispatcher, 'publish'> = {
      publish: async (taskId, attempt) => {
        if (down) throw new Error('nats: connection closed');
        return dispatcher.publish(taskId, attempt);
      },
    };
    expect(await relayOutboxOnce({ store: wiring.store(), dispatcher: flaky, leaseMs: 100, registry: ctx.registry })).toMatchObject({ taken: 1, failed: 1 });
    expect(await outboxSize()).toBe(1);
    down = false;
    await sleep(250);
    expect(await relayOutboxOnce({ store: wiring.store(), dispatcher: flaky, leaseMs: 100, registry: ctx.registry })).toMatchObject({ published: 1 });
    await waitFor(() => seen.length === 1);
    expect(seen).toEqual([{ taskId: id, attempt: 0 }]);
    const failed = (await ctx.registry.getSingleMetric('fooocus_outbox_publishes_total')!.get()).values;
    expect(failed.find((v) => v.labels.outcome === 'failed')?.value).toBe(1);
    expect(failed.find((v) => v.labels.outcome === 'published')?.value).toBe(1);
  });

  it('the running loop publishes new tasks and drains a backlog larger than one batch', async () => {
    const dispatcher = await wiring.dispatcher();
    const seen = ctx.consumeAll(dispatcher);
    const ids = Array.from({ length: 25 }, newTaskId);
    for (const id of ids) await wiring.store().create({ id, reqParams: {} });
    const relay = startOutboxRelay({ store: wiring.store(), dispatcher, intervalMs: 20, batch: 10, registry: ctx.registry });
    ctx.stopAfterTest(relay.stop);
    await waitFor(() => seen.length === 25);
    expect(new Set(seen.map((s) => s.taskId))).toEqual(new Set(ids));
    expect(await outboxSize()).toBe(0);
  });
});
