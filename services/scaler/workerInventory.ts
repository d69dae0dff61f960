/**
 * The worker inventory the scaler serves at GET /inventory (for the API and operators): which
 * worker pods exist, their GPU, whether they are busy and with which task, and which
 * checkpoints are warm. Pure: built from what the tick already read.
 *
 * "Warm" is inferred, not reported by the worker: the engine caches ONNX sessions per
 * checkpoint, so the checkpoints a pod ran within WARM_WINDOW_MS (from the task table,
 * newest first) are the ones it most likely still holds.
 */
import type { DeploymentScale, WorkerPod } from './kubeWorkloads.ts';
import type { QueueDepth } from './queueDepth.ts';
import type { WorkerActivity } from './taskTableActivity.ts';

/** GPU feature discovery's node labels (NVIDIA GPU operator / gpu-feature-discovery). */
export const GPU_PRODUCT_LABEL = 'nvidia.com/gpu.product';
export const GPU_MEMORY_LABEL = 'nvidia.com/gpu.memory';

export interface WorkerInventoryEntry {
  pod: string;
  deployment: string | null;
  phase: string;
  ready: boolean;
  terminating: boolean;
  node: string | null;
  gpu: { resource: string | null; count: number; product: string | null; memoryMiB: number | null };
  busy: boolean;
  currentTask: string | null;
  warmCheckpoints: string[];
  deletionCost: number | null;
  startedAt: string | null;
}

export interface WorkerInventory {
  generatedAt: string;
  namespace: string;
  queue: QueueDepth;
  deployments: { name: string; replicas: number }[];
  workers: WorkerInventoryEntry[];
}

export interface InventoryInput {
  now: Date;
  namespace: string;
  queue: QueueDepth;
  scales: DeploymentScale[];
  pods: WorkerPod[];
  activity: WorkerActivity[];
  nodeLabels: ReadonlyMap<string, Record<string, string>>;
}

/** The Deployment a pod belongs to: ReplicaSet pods are named <deployment>-<hash>-<suffix>. */
export function deploymentOf(pod: string, deployments: string[]): string | null {
  const matches = deployments.filter((d) => pod.startsWith(`${d}-`));
  return matches.sort((a, b) => b.length - a.length)[0] ?? null;
}

export function buildInventory(input: InventoryInput): WorkerInventory {
  const names = input.scales.map((s) => s.name);
  const workers = input.pods
    .map((p): WorkerInventoryEntry => {
      const mine = input.activity.filter((a) => a.workerId === p.name);
      const current = mine.find((a) => a.running) ?? null;
      const warm: string[] = [];
      for (const a of mine) if (a.checkpoint && !warm.includes(a.checkpoint)) warm.push(a.checkpoint);
      const labels = (p.nodeName && input.nodeLabels.get(p.nodeName)) || {};
      const mem = Number(labels[GPU_MEMORY_LABEL]);
      return {
        pod: p.name,
        deployment: deploymentOf(p.name, names),
        phase: p.phase,
        ready: p.ready,
        terminating: p.terminating,
        node: p.nodeName,
        gpu: { resource: p.gpuResource, count: p.gpuCount, product: labels[GPU_PRODUCT_LABEL] ?? null, memoryMiB: Number.isFinite(mem) && mem > 0 ? mem : null },
        busy: current !== null,
        currentTask: current?.taskId ?? null,
        warmCheckpoints: warm,
        deletionCost: p.deletionCost,
        startedAt: p.startedAt,
      };
    })
    .sort((a, b) => a.pod.localeCompare(b.pod));
  return {
    generatedAt: input.now.toISOString(),
    namespace: input.namespace,
    queue: input.queue,
    deployments: input.scales.map((s) => ({ name: s.name, replicas: s.replicas })),
    workers,
  };
}
