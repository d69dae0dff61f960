// The EventBus contract, run unchanged against JetStream (real nats-server) and the
// in-process bus: ordered per-task delivery, replay after a sequence number (SSE resume,
// reliability.md fault case 11) and the stop/skip control channel.
import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import type { EventBus } from '../../services/core/ports.ts';
import type { ControlMessage, TaskEvent, TaskEventEnvelope } from '../../services/core/task/taskEvents.ts';
import { createJetStreamEventBus } from '../../services/infra/jetstream/createJetStreamEventBus.ts';
import { createInProcessEventBus } from '../../services/infra/inprocess/createInProcessEventBus.ts';
import { natsForSuite, noSetup, useContractBackend, type ContractBackend } from '../harness/contractBackends.ts';
import { sleep, waitFor } from '../harness/waitFor.ts';

const nats = natsForSuite();

const backends: ContractBackend<EventBus>[] = [
  {
    name: 'jetstream',
    setup: nats.setup,
    teardown: nats.teardown,
    async make() {
      const name = `E${randomBytes(4).toString('hex')}`;
      return await createJetStreamEventBus({
        nc: nats.connection(),
        stream: name,
        subjectPrefix: `events.${name}`,
        controlSubject: `control.${name}`,
        storage: 'memory',
      });
    },
  },
  { name: 'in-process', ...noSetup, make: async () => createInProcessEventBus() },
];

const progress = (step: number): TaskEvent => ({ type: 'progress', step, total: 4, percent: step * 25, message: `Sampling step ${step}/4` });
const newTask = () => randomBytes(16).toString('hex');

describe.each(backends)('EventBus on $name', (backend) => {
  const make = useContractBackend(backend);

  it('a subscriber receives its task’s events in emit order with increasing seq, and no other task’s', async () => {
    const bus = await make();
    const task = newTask();
    const other = newTask();
    const got: TaskEventEnvelope[] = [];
    await bus.subscribe(task, (e) => got.push(e));

    const emitted = [
      await bus.emit(task, { type: 'started', attempt: 1, workerId: 'w1' }),
      await bus.emit(task, progress(1)),
      await bus.emit(other, progress(1)),
      await bus.emit(task, progress(2)),
      await bus.emit(task, { type: 'finished', results: [{ key: 'outputs/a.png', seed: '42', finishReason: 'SUCCESS' }] }),
    ].filter((e) => e.taskId === task);

    await waitFor(() => got.length === 4);
    await sleep(50);
    expect(got).toEqual(emitted);
    expect(got.map((e) => e.event.type)).toEqual(['started', 'progress', 'progress', 'finished']);
    const seqs = got.map((e) => e.seq);
    expect([...seqs].sort((a, b) => a - b)).toEqual(seqs);
    expect(new Set(seqs).size).toBe(4);
  });

  it('replay returns exactly the retained events after a seq', async () => {
    const bus = await make();
    const task = newTask();
    const emitted = [];
    for (let step = 1; step <= 4; step++) emitted.push(await bus.emit(task, progress(step)));
    await bus.emit(newTask(), progress(9));

    expect(await bus.replay(task, 0)).toEqual(emitted);
    expect(await bus.replay(task, emitted[1].seq)).toEqual(emitted.slice(2));
    expect(await bus.replay(task, emitted[3].seq)).toEqual([]);
    expect(await bus.replay(newTask(), 0)).toEqual([]);
  });

  it('subscribe with afterSeq replays the missed events, then continues live with no gap or duplicate', async () => {
    const bus = await make();
    const task = newTask();
    const first = await bus.emit(task, progress(1));
    const missed = [await bus.emit(task, progress(2)), await bus.emit(task, progress(3))];
    void first;

    const got: TaskEventEnvelope[] = [];
    await bus.subscribe(task, (e) => got.push(e), { afterSeq: first.seq }); // Last-Event-ID: first
    const live = await bus.emit(task, { type: 'failed', error: { code: 'engine_error', message: 'x' } });
    await waitFor(() => got.length === 3);
    await sleep(50);
    expect(got).toEqual([...missed, live]);
  });

  it('every subscriber gets every event (two API replicas), and unsubscribe stops delivery', async () => {
    const bus = await make();
    const task = newTask();
    const a: number[] = [];
    const b: number[] = [];
    const unsubscribeA = await bus.subscribe(task, (e) => a.push(e.seq));
    await bus.subscribe(task, (e) => b.push(e.seq));
    const e1 = await bus.emit(task, progress(1));
    await waitFor(() => a.length === 1 && b.length === 1);
    await unsubscribeA();
    const e2 = await bus.emit(task, progress(2));
    await waitFor(() => b.length === 2);
    await sleep(50);
    expect(a).toEqual([e1.seq]);
    expect(b).toEqual([e1.seq, e2.seq]);
  });

  it('a retried terminal emit is stored and delivered once, with the original seq', async () => {
    const bus = await make();
    const task = newTask();
    const got: TaskEventEnvelope[] = [];
    await bus.subscribe(task, (e) => got.push(e));
    const finished: TaskEvent = { type: 'finished', results: [] };
    const first = await bus.emit(task, finished);
    const retry = await bus.emit(task, finished);
    expect(retry.seq).toBe(first.seq);
    await waitFor(() => got.length === 1);
    await sleep(50);
    expect(got).toHaveLength(1);
    expect(await bus.replay(task, 0)).toHaveLength(1);
  });

  it('control delivers stop and skip, for a task or for whatever is running, to every listener', async () => {
    const bus = await make();
    const task = newTask();
    const w1: ControlMessage[] = [];
    const w2: ControlMessage[] = [];
    const off1 = await bus.onControl((m) => w1.push(m));
    await bus.onControl((m) => w2.push(m));
    await bus.control(task, 'stop');
    await bus.control(null, 'skip');
    await waitFor(() => w1.length === 2 && w2.length === 2);
    const expected = [
      { taskId: task, action: 'stop' },
      { taskId: null, action: 'skip' },
    ];
    expect(w1).toEqual(expected);
    expect(w2).toEqual(expected);
    await off1();
    await bus.control(task, 'skip');
    await waitFor(() => w2.length === 3);
    await sleep(50);
    expect(w1).toHaveLength(2);
  });
});
