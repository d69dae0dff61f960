import { describe, expect, it } from 'vitest';
import { buildInventory, deploymentOf } from './workerInventory.ts';
import type { WorkerPod } from './kubeWorkloads.ts';

const pod = (name: string, over: Partial<WorkerPod> = {}): WorkerPod => ({
  name,
  phase: 'Running',
  ready: true,
  terminating: false,
  nodeName: 'n1',
  deletionCost: null,
  gpuCount: 1,
  gpuResource: 'nvidia.com/gpu',
  startedAt: null,
  ...over,
});

describe('worker inventory', () => {
  it('attributes pods to the Deployment with the longest matching name', () => {
    expect(deploymentOf('fooocus-worker-l4-7d9c-abcde', ['fooocus-worker', 'fooocus-worker-l4'])).toBe('fooocus-worker-l4');
    expect(deploymentOf('fooocus-worker-7d9c-abcde', ['fooocus-worker', 'fooocus-worker-l4'])).toBe('fooocus-worker');
    expect(deploymentOf('other-1', ['fooocus-worker'])).toBeNull();
  });

  it('combines pods, node GPU labels and task-table activity; warm checkpoints newest first, distinct', () => {
    const inv = buildInventory({
      now: new Date('2026-11-23T10:00:00Z'),
      namespace: 'fooocus',
      queue: { queued: 1, running: 1 },
      scales: [{ name: 'fooocus-worker', replicas: 2, resourceVersion: '7' }],
      pods: [pod('fooocus-worker-a-1'), pod('fooocus-worker-a-2', { nodeName: null, ready: false, phase: 'Pending' })],
      activity: [
        { workerId: 'fooocus-worker-a-1', taskId: 't3', running: true, checkpoint: 'b.safetensors', startedAt: null },
        { workerId: 'fooocus-worker-a-1', taskId: 't2', running: false, checkpoint: 'a.safetensors', startedAt: null },
        { workerId: 'fooocus-worker-a-1', taskId: 't1', running: false, checkpoint: 'b.safetensors', startedAt: null },
        { workerId: 'gone-pod', taskId: 't0', running: true, checkpoint: 'c.safetensors', startedAt: null },
      ],
      nodeLabels: new Map([['n1', { 'nvidia.com/gpu.product': 'NVIDIA-L4', 'nvidia.com/gpu.memory': '23034' }]]),
    });
    expect(inv.workers).toEqual([
      {
        pod: 'fooocus-worker-a-1',
        deployment: 'fooocus-worker',
        phase: 'Running',
        ready: true,
        terminating: false,
        node: 'n1',
        gpu: { resource: 'nvidia.com/gpu', count: 1, product: 'NVIDIA-L4', memoryMiB: 23034 },
        busy: true,
        currentTask: 't3',
        warmCheckpoints: ['b.safetensors', 'a.safetensors'],
        deletionCost: null,
        startedAt: null,
      },
      expect.objectContaining({ pod: 'fooocus-worker-a-2', busy: false, warmCheckpoints: [], gpu: { resource: 'nvidia.com/gpu', count: 1, product: null, memoryMiB: null } }),
    ]);
    expect(inv.generatedAt).toBe('2026-11-23T10:00:00.000Z');
  });
});
