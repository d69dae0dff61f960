// The reconciler on both wirings, with the real store and dispatcher and shrunk timers
// (reliability.md B2: republish queued tasks the queue lost; B3/B5: requeue tasks whose
// worker stopped heartbeating; B7: fail them after maxAttempts).
import { describe, expect, it } from 'vitest';
import type { Dispatcher } from '../../core/ports.ts';
import { relayOutboxOnce } from './outboxRelay.ts';
import { startReconciler, type ReconcilerOptions } from './reconciler.ts';
import { newTaskId, sleep, useLoopTestWiring, waitFor, wirings } from './testWirings.ts';

describe.each(wirings())('reconciler on $name', (wiring) => {
  const ctx = useLoopTestWiring(wiring);

  const reconciler = (dispatcher: Dispatcher, options: Partial<ReconcilerOptions> = {}) => {
    const r = startReconciler({ store: wiring.store(), dispatcher, heartbeatTimeoutMs: 300, queuedOlderThanMs: 300, intervalMs: 60_000, registry: ctx.registry, ...options });
    ctx.stopAfterTest(r.stop);
    return r;
  };

  it('redispatches a queued task whose message was lost, once it is older than the threshold', async () => {
    // A short dedup window stands in for "the stream lost the message after its window".
    const dispatcher = await wiring.dispatcher({ duplicateWindowMs: 200 });
    const seen = ctx.consumeAll(dispatcher);
    const id = newTaskId();
    await wiring.store().create({ id, reqParams: {} });
    await relayOutboxOnce({ store: wiring.store(), dispatcher, registry: ctx.registry });
    await waitFor(() => seen.length === 1);

    const r = reconciler(dispatcher);
    expect(await r.runOnce()).toMatchObject({ redispatched: [], requeued: [], failed: [] }); // too young
    await sleep(450);
    const report = await r.runOnce();
    expect(report).toMatchObject({ redispatched: [id], requeued: [], failed: [], relay: { published: 1 } });
    await waitFor(() => seen.length === 2);
    expect(seen).toEqual([
      { taskId: id, attempt: 0 },
      { taskId: id, attempt: 0 },
    ]);
    expect((await r.runOnce()).redispatched).toEqual([]); // queued_at was bumped: once per period
    expect((await wiring.store().get(id))?.status).toBe('queued');
  });

  it('requeues a running task whose heartbeat went stale and dispatches its current attempt', async () => {
    const dispatcher = await wiring.dispatcher();
    const seen = ctx.consumeAll(dispatcher);
    const store = wiring.store();
    const stale = newTaskId();
    const live = newTaskId();
    for (const id of [stale, live]) {
      await store.create({ id, reqParams: {} });
      expect((await store.claim(id, 'worker-1')).claimed).toBe(true);
    }
    await relayOutboxOnce({ store, dispatcher, registry: ctx.registry });
    await waitFor(() => seen.length === 2);

    const r = reconciler(dispatcher);
    await sleep(400);
    expect(await store.heartbeat(live, 1)).toBe(true); // this worker is alive
    const report = await r.runOnce();
    expect(report).toMatchObject({ requeued: [stale], redispatched: [], failed: [], relay: { published: 1 } });
    expect(await store.get(stale)).toMatchObject({ status: 'queued', attempt: 1, workerId: null });
    expect(await store.get(live)).toMatchObject({ status: 'running', attempt: 1 });
    await waitFor(() => seen.length === 3);
    expect(seen[2]).toEqual({ taskId: stale, attempt: 1 });
    // The next claim fences the dead worker out.
    expect(await store.claim(stale, 'worker-2')).toMatchObject({ claimed: true, task: { attempt: 2 } });
    expect(await store.heartbeat(stale, 1)).toBe(false);
    const actions = (await ctx.registry.getSingleMetric('fooocus_reconciler_tasks_total')!.get()).values;
    expect(actions.find((v) => v.labels.action === 'requeued')?.value).toBe(1);
  });

  it('fails a stale task that has used maxAttempts (worker_crash) instead of requeueing it', async () => {
    const dispatcher = await wiring.dispatcher();
    const id = newTaskId();
    await wiring.store().create({ id, reqParams: {} });
    await wiring.store().claim(id, 'worker-1');
    await sleep(400);
    const report = await reconciler(dispatcher, { maxAttempts: 1 }).runOnce();
    expect(report).toMatchObject({ failed: [id], requeued: [] });
    expect(await wiring.store().get(id)).toMatchObject({ status: 'failed', error: { code: 'worker_crash' } });
  });

  it('the running loop repairs without runOnce, and fooocus_queue_depth reports the dispatcher', async () => {
    const dispatcher = await wiring.dispatcher();
    const id = newTaskId();
    await wiring.store().create({ id, reqParams: {} });
    await wiring.store().claim(id, 'worker-1');
    reconciler(dispatcher, { intervalMs: 50 });
    await waitFor(async () => (await wiring.store().get(id))?.status === 'queued');
    // Two messages wait (nobody consumes here): `<id>:0` from create and `<id>:1` from the requeue.
    await waitFor(async () => (await ctx.registry.metrics()).includes('fooocus_queue_depth{state="waiting"} 2'));
    expect(await dispatcher.stats()).toEqual({ waiting: 2, inFlight: 0 });
    expect(await ctx.registry.metrics()).toContain('fooocus_queue_depth{state="in_flight"} 0');
  });
});
