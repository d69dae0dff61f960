/**
 * The scaler end to end: decisions applied through the real client to the Kubernetes-speaking
 * fake (which removes pods as a ReplicaSet ranks them), with the queue and the task table
 * replaced by in-memory sources and time by a fake clock.
 */
import { pino } from 'pino';
import { Registry } from 'prom-client';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { KubeWorkloads, ScaleConflictError } from './kubeWorkloads.ts';
import { POD_DELETION_COST } from './planDeletionCosts.ts';
import type { QueueDepth, QueueDepthSource } from './queueDepth.ts';
import { createScalerApp } from './scalerHttp.ts';
import { ScalerLoop } from './scalerLoop.ts';
import { createScalerMetrics } from './scalerMetrics.ts';
import type { WorkerActivity } from './taskTableActivity.ts';
import { kubeConfigForFake, startFakeKubeApiServer, type FakeKubeApiServer } from './testing/fakeKubeApiServer.ts';

const LABELS = { 'app.kubernetes.io/instance': 'fooocus', 'app.kubernetes.io/component': 'worker' };

class MemoryQueue implements QueueDepthSource {
  depth: QueueDepth = { queued: 0, running: 0 };
  async readDepth() {
    return { ...this.depth };
  }
  async close() {}
}

class MemoryTaskTable {
  rows: WorkerActivity[] = [];
  async readActivity() {
    return [...this.rows];
  }
}

describe('ScalerLoop with the Kubernetes-speaking fake', () => {
  let api: FakeKubeApiServer;
  let queue: MemoryQueue;
  let tasks: MemoryTaskTable;
  let now: number;
  let loop: ScalerLoop;
  let registry: Registry;

  const workerPods = () => [...api.pods.keys()].filter((p) => p.startsWith('fooocus-worker-')).sort();
  const replicas = () => api.deployments.get('fooocus-worker')!.replicas;
  const running = (pod: string, taskId: string, checkpoint = 'juggernautXL_v8.safetensors'): WorkerActivity => ({ workerId: pod, taskId, running: true, checkpoint, startedAt: new Date(now) });

  beforeEach(async () => {
    api = await startFakeKubeApiServer({ namespace: 'fooocus' });
    api.addDeployment('fooocus-worker', 0, LABELS);
    api.nodes.set('gpu-node-1', { 'nvidia.com/gpu.product': 'NVIDIA-L4', 'nvidia.com/gpu.memory': '23034' });
    api.nodes.set('gpu-node-2', { 'nvidia.com/gpu.product': 'NVIDIA-A100-SXM4-80GB', 'nvidia.com/gpu.memory': '81920' });
    queue = new MemoryQueue();
    tasks = new MemoryTaskTable();
    now = 1_700_000_000_000;
    registry = new Registry();
    loop = new ScalerLoop({
      kube: new KubeWorkloads({ kubeConfig: kubeConfigForFake(api), namespace: 'fooocus' }),
      depth: queue,
      activity: tasks,
      namespace: 'fooocus',
      deployments: ['fooocus-worker'],
      podSelector: 'app.kubernetes.io/instance=fooocus,app.kubernetes.io/component=worker',
      policy: { minReplicas: 0, maxReplicas: 4, tasksPerReplica: 1, scaleUpCooldownMs: 30_000, scaleDownCooldownMs: 300_000, idleBeforeZeroMs: 600_000 },
      readNodes: true,
      warmWindowMs: 900_000,
      logger: pino({ level: 'silent' }),
      metrics: createScalerMetrics(registry),
      clock: () => now,
    });
  });
  afterEach(async () => {
    await loop.stop();
    await api.close();
  });

  it('wakes workers from zero, keeps busy ones on scale-in, removes the idle one, then scales to zero', async () => {
    // Two tasks arrive while no worker runs: both are started at once.
    queue.depth = { queued: 2, running: 0 };
    expect((await loop.tick()).decision.action).toBe('wake');
    expect(replicas()).toBe(2);
    const [a, b] = workerPods();

    // Both workers pick a task; a third task queues: one more worker after the up-cooldown.
    queue.depth = { queued: 1, running: 2 };
    tasks.rows = [running(a, 't1'), running(b, 't2')];
    now += 10_000;
    expect((await loop.tick()).decision.action).toBe('hold');
    now += 25_000;
    expect((await loop.tick()).decision.action).toBe('up');
    expect(replicas()).toBe(3);
    const c = workerPods().find((p) => p !== a && p !== b)!;

    // c takes t3 and finishes; a finishes; b still renders. Demand 1: after the window, 1 worker.
    queue.depth = { queued: 0, running: 1 };
    tasks.rows = [running(b, 't2'), { ...running(a, 't1'), running: false }, { ...running(c, 't3', 'ponyXL.safetensors'), running: false }];
    now += 60_000;
    expect((await loop.tick()).decision.action).toBe('hold');
    now += 300_000;
    const down = await loop.tick();
    expect(down.decision).toMatchObject({ action: 'down', desired: 1 });

    // The idle pods were marked cheap, the busy one expensive, and the ReplicaSet kept the busy one.
    expect(workerPods()).toEqual([b]);
    const patches = api.requests.filter((r) => r.method === 'PATCH').map((r) => [r.path.split('/').pop(), (r.body as any).metadata.annotations[POD_DELETION_COST]]);
    expect(patches.sort()).toEqual([[a, '0'], [b, '1000'], [c, '0']].sort());

    // b finishes; nothing queued: the last worker stays for idleBeforeZero, then goes.
    queue.depth = { queued: 0, running: 0 };
    tasks.rows = [{ ...running(b, 't2'), running: false }];
    now += 60_000;
    expect((await loop.tick()).decision.action).toBe('hold');
    now += 600_000;
    expect((await loop.tick()).decision).toMatchObject({ action: 'down', desired: 0 });
    expect(replicas()).toBe(0);
    expect(workerPods()).toEqual([]);
  });

  it('decides again after a conflicting change to the Deployment, without remembering a change it did not make', async () => {
    queue.depth = { queued: 3, running: 0 };
    const kube = (loop as unknown as { o: { kube: KubeWorkloads } }).o.kube;
    const write = kube.writeScale.bind(kube);
    let first = true;
    kube.writeScale = async (scale, n) => {
      if (first) {
        first = false;
        api.touch('fooocus-worker'); // someone else wrote the Deployment between our read and write
      }
      return write(scale, n);
    };
    await expect(loop.tick()).rejects.toBeInstanceOf(ScaleConflictError);
    expect(replicas()).toBe(0);
    expect((await loop.tick()).decision).toMatchObject({ action: 'wake', desired: 3 });
    expect(replicas()).toBe(3);
    expect(await registry.getSingleMetricAsString('fooocus_scaler_errors_total')).toContain('stage="conflict"} 1');
  });

  it('serves the worker inventory: pods, GPU model from node labels, busy task, warm checkpoints', async () => {
    queue.depth = { queued: 2, running: 0 };
    await loop.tick();
    const [a, b] = workerPods();
    queue.depth = { queued: 0, running: 1 };
    tasks.rows = [running(a, 't9', 'juggernautXL_v8.safetensors'), { ...running(a, 't8', 'ponyXL.safetensors'), running: false }, { ...running(b, 't7', 'juggernautXL_v8.safetensors'), running: false }];
    now += 1000;
    await loop.tick();

    const app = createScalerApp({ loop, registry, pollIntervalMs: 10_000, startedAt: now, clock: () => now });
    const server = app.listen(0, '127.0.0.1');
    await new Promise((r) => server.once('listening', r));
    try {
      const port = (server.address() as { port: number }).port;
      const inv = (await (await fetch(`http://127.0.0.1:${port}/inventory`)).json()) as any;
      expect(inv.deployments).toEqual([{ name: 'fooocus-worker', replicas: 2 }]);
      expect(inv.queue).toEqual({ queued: 0, running: 1 });
      const wa = inv.workers.find((w: any) => w.pod === a);
      expect(wa).toMatchObject({
        deployment: 'fooocus-worker',
        ready: true,
        busy: true,
        currentTask: 't9',
        warmCheckpoints: ['juggernautXL_v8.safetensors', 'ponyXL.safetensors'],
        gpu: { resource: 'nvidia.com/gpu', count: 1 },
      });
      expect(['NVIDIA-L4', 'NVIDIA-A100-SXM4-80GB']).toContain(wa.gpu.product);
      expect(inv.workers.find((w: any) => w.pod === b)).toMatchObject({ busy: false, currentTask: null, warmCheckpoints: ['juggernautXL_v8.safetensors'] });
      const health = await fetch(`http://127.0.0.1:${port}/healthz`);
      expect(health.status).toBe(200);
      const metrics = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
      expect(metrics).toContain('fooocus_scaler_current_replicas{deployment="fooocus-worker"} 2');
      expect(metrics).toContain('fooocus_scaler_observed_tasks{state="running"} 1');
      now += 10 * 60_000;
      expect((await fetch(`http://127.0.0.1:${port}/healthz`)).status).toBe(503);
    } finally {
      await new Promise((r) => server.close(r));
    }
  });

  it('runs on a timer until stopped', async () => {
    queue.depth = { queued: 1, running: 0 };
    loop.start(20);
    for (let i = 0; i < 100 && replicas() === 0; i++) await new Promise((r) => setTimeout(r, 10));
    await loop.stop();
    expect(replicas()).toBe(1);
    expect(loop.lastSuccessAt).toBe(now);
  });
});
