/**
 * The scaler's Kubernetes calls, and only these (the chart's Role grants exactly them):
 *   GET/PUT  apps/v1 deployments/{name}/scale       read and set replicas
 *   GET      v1 pods?labelSelector=…                 worker inventory
 *   PATCH    v1 pods/{name} (merge patch)            pod-deletion-cost annotation
 *   GET      v1 nodes/{name}                         GPU labels (optional, READ_NODES)
 *
 * The scale write is a PUT of the Scale subresource carrying the resourceVersion that was
 * read: if anything else changed the Deployment in between, the API server answers 409 and
 * the scaler decides again on the next tick instead of overwriting (optimistic concurrency).
 * Tested against an HTTP server that speaks these endpoints (testing/fakeKubeApiServer.ts).
 */
import { AppsV1Api, CoreV1Api, KubeConfig, PatchStrategy, setHeaderOptions, type V1Pod } from '@kubernetes/client-node';
import { POD_DELETION_COST } from './planDeletionCosts.ts';

export interface DeploymentScale {
  name: string;
  replicas: number;
  resourceVersion: string;
}

export interface WorkerPod {
  name: string;
  phase: string;
  ready: boolean;
  /** Being deleted (has a deletionTimestamp): draining, no longer counted as capacity. */
  terminating: boolean;
  nodeName: string | null;
  deletionCost: number | null;
  /** Extended resources ending in "/gpu" (nvidia.com/gpu, amd.com/gpu) from container limits. */
  gpuCount: number;
  gpuResource: string | null;
  startedAt: string | null;
}

export class ScaleConflictError extends Error {
  constructor(deployment: string, cause: unknown) {
    super(`scale of ${deployment} changed since it was read`, { cause });
    this.name = 'ScaleConflictError';
  }
}

export interface KubeWorkloadsOptions {
  kubeConfig: KubeConfig;
  namespace: string;
}

function statusCode(e: unknown): number | undefined {
  const code = (e as { code?: unknown })?.code;
  return typeof code === 'number' ? code : undefined;
}

export function toWorkerPod(p: V1Pod): WorkerPod {
  const annotations = p.metadata?.annotations ?? {};
  const rawCost = annotations[POD_DELETION_COST];
  const cost = rawCost !== undefined && /^-?\d+$/.test(rawCost) ? Number(rawCost) : null;
  let gpuCount = 0;
  let gpuResource: string | null = null;
  for (const c of p.spec?.containers ?? []) {
    for (const [k, v] of Object.entries(c.resources?.limits ?? {})) {
      if (!k.endsWith('/gpu')) continue;
      gpuResource = k;
      gpuCount += Number(v) || 0;
    }
  }
  return {
    name: p.metadata?.name ?? '',
    phase: p.status?.phase ?? 'Unknown',
    ready: (p.status?.conditions ?? []).some((c) => c.type === 'Ready' && c.status === 'True'),
    terminating: !!p.metadata?.deletionTimestamp,
    nodeName: p.spec?.nodeName ?? null,
    deletionCost: cost,
    gpuCount,
    gpuResource,
    startedAt: p.status?.startTime ? new Date(p.status.startTime).toISOString() : null,
  };
}

export class KubeWorkloads {
  private readonly apps: AppsV1Api;
  private readonly core: CoreV1Api;
  private readonly namespace: string;

  constructor(opts: KubeWorkloadsOptions) {
    this.apps = opts.kubeConfig.makeApiClient(AppsV1Api);
    this.core = opts.kubeConfig.makeApiClient(CoreV1Api);
    this.namespace = opts.namespace;
  }

  async readScale(deployment: string): Promise<DeploymentScale> {
    const s = await this.apps.readNamespacedDeploymentScale({ name: deployment, namespace: this.namespace });
    return { name: deployment, replicas: s.spec?.replicas ?? 0, resourceVersion: s.metadata?.resourceVersion ?? '' };
  }

  /** Sets replicas if the Scale still has the resourceVersion that was read; ScaleConflictError otherwise. */
  async writeScale(scale: DeploymentScale, replicas: number): Promise<void> {
    try {
      await this.apps.replaceNamespacedDeploymentScale({
        name: scale.name,
        namespace: this.namespace,
        body: {
          apiVersion: 'autoscaling/v1',
          kind: 'Scale',
          metadata: { name: scale.name, namespace: this.namespace, resourceVersion: scale.resourceVersion },
          spec: { replicas },
        },
      });
    } catch (e) {
      if (statusCode(e) === 409) throw new ScaleConflictError(scale.name, e);
      throw e;
    }
  }

  async listWorkerPods(labelSelector: string): Promise<WorkerPod[]> {
    const list = await this.core.listNamespacedPod({ namespace: this.namespace, labelSelector });
    return list.items.map(toWorkerPod);
  }

  /** Merge-patches the pod-deletion-cost annotation; a pod that is already gone is not an error. */
  async setDeletionCost(pod: string, cost: number): Promise<void> {
    try {
      await this.core.patchNamespacedPod(
        { name: pod, namespace: this.namespace, body: { metadata: { annotations: { [POD_DELETION_COST]: String(cost) } } } },
        setHeaderOptions('Content-Type', PatchStrategy.MergePatch),
      );
    } catch (e) {
      if (statusCode(e) !== 404) throw e;
    }
  }

  async readNodeLabels(node: string): Promise<Record<string, string>> {
    const n = await this.core.readNode({ name: node });
    return n.metadata?.labels ?? {};
  }
}
