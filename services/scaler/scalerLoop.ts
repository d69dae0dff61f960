/**
 * One scaler tick, then the timer that repeats it. A tick reads (Scale of each worker
 * Deployment, queue depth, task-table activity, worker pods), decides (decideReplicas.ts),
 * and only then writes: pod-deletion-cost on the pods of Deployments about to shrink (idle
 * first), then the new Scale with the resourceVersion it read. A conflict or any error leaves
 * the remembered state unchanged, so the next tick decides again from fresh reads.
 */
import type { Logger } from 'pino';
import { allocateReplicas, decideReplicas, initialScaleState, type ScaleDecision, type ScalePolicy, type ScaleState } from './decideReplicas.ts';
import { ScaleConflictError, type DeploymentScale, type KubeWorkloads, type WorkerPod } from './kubeWorkloads.ts';
import { planDeletionCosts } from './planDeletionCosts.ts';
import type { QueueDepthSource } from './queueDepth.ts';
import type { ScalerMetrics } from './scalerMetrics.ts';
import type { TaskTableActivity, WorkerActivity } from './taskTableActivity.ts';
import { buildInventory, deploymentOf, type WorkerInventory } from './workerInventory.ts';

export interface ScalerLoopOptions {
  kube: Pick<KubeWorkloads, 'readScale' | 'writeScale' | 'listWorkerPods' | 'setDeletionCost' | 'readNodeLabels'>;
  depth: QueueDepthSource;
  /** The task table: busy pods and inventory. Null without DATABASE_URL. */
  activity: Pick<TaskTableActivity, 'readActivity'> | null;
  namespace: string;
  deployments: string[];
  podSelector: string;
  /** Per-Deployment maximum; minReplicas is a total. */
  policy: ScalePolicy;
  readNodes: boolean;
  warmWindowMs: number;
  logger: Logger;
  metrics: ScalerMetrics;
  clock?: () => number;
}

export interface TickResult {
  decision: ScaleDecision;
  current: number;
  applied: Map<string, number>;
}

/** Node labels change rarely; re-read them at most this often. */
const NODE_LABEL_TTL_MS = 5 * 60_000;

export class ScalerLoop {
  private state: ScaleState | null = null;
  private lastInventory: WorkerInventory | null = null;
  private timer: NodeJS.Timeout | null = null;
  private running: Promise<void> | null = null;
  private readonly nodeLabels = new Map<string, { at: number; labels: Record<string, string> }>();
  lastSuccessAt: number | null = null;
  lastError: string | null = null;

  constructor(private readonly o: ScalerLoopOptions) {}

  private now(): number {
    return (this.o.clock ?? Date.now)();
  }

  inventory(): WorkerInventory | null {
    return this.lastInventory;
  }

  async tick(): Promise<TickResult> {
    const { kube, metrics, policy } = this.o;
    const now = this.now();
    let scales: DeploymentScale[];
    let pods: WorkerPod[];
    try {
      scales = await Promise.all(this.o.deployments.map((d) => kube.readScale(d)));
      pods = await kube.listWorkerPods(this.o.podSelector);
    } catch (e) {
      metrics.errors.inc({ stage: 'kubernetes' });
      throw e;
    }
    let depth;
    let activity: WorkerActivity[] = [];
    try {
      depth = await this.o.depth.readDepth();
      if (this.o.activity) activity = await this.o.activity.readActivity(this.o.warmWindowMs);
    } catch (e) {
      metrics.errors.inc({ stage: 'queue' });
      throw e;
    }
    const podNames = new Set(pods.map((p) => p.name));
    const busy = new Set(activity.filter((a) => a.running && podNames.has(a.workerId)).map((a) => a.workerId));
    const current = scales.reduce((n, s) => n + s.replicas, 0);
    for (const s of scales) metrics.currentReplicas.set({ deployment: s.name }, s.replicas);
    metrics.observedTasks.set({ state: 'queued' }, depth.queued);
    metrics.observedTasks.set({ state: 'running' }, depth.running);

    const totalPolicy: ScalePolicy = { ...policy, maxReplicas: policy.maxReplicas * scales.length };
    const decision = decideReplicas(
      totalPolicy,
      { now, queued: depth.queued, running: depth.running, busyWorkers: this.o.activity ? busy.size : undefined, currentReplicas: current },
      this.state ?? initialScaleState(now, current),
    );
    metrics.decisions.inc({ action: decision.action });
    const applied = new Map<string, number>();
    if (decision.desired !== current) {
      const target = allocateReplicas(decision.desired, scales, policy.maxReplicas);
      try {
        const shrinking = scales.filter((s) => target.get(s.name)! < s.replicas).map((s) => s.name);
        if (shrinking.length) {
          const candidates = pods.filter((p) => !p.terminating && shrinking.includes(deploymentOf(p.name, this.o.deployments) ?? ''));
          for (const patch of planDeletionCosts(candidates, busy)) await kube.setDeletionCost(patch.pod, patch.cost);
        }
        for (const s of scales) {
          const n = target.get(s.name)!;
          if (n === s.replicas) continue;
          await kube.writeScale(s, n);
          applied.set(s.name, n);
          metrics.desiredReplicas.set({ deployment: s.name }, n);
        }
      } catch (e) {
        metrics.errors.inc({ stage: e instanceof ScaleConflictError ? 'conflict' : 'kubernetes' });
        throw e;
      }
      this.o.logger.info({ action: decision.action, from: current, to: decision.desired, queued: depth.queued, running: depth.running, busy: busy.size }, decision.reason);
    } else {
      for (const s of scales) metrics.desiredReplicas.set({ deployment: s.name }, s.replicas);
      this.o.logger.debug({ current, queued: depth.queued, running: depth.running }, decision.reason);
    }
    this.state = decision.state;

    this.lastInventory = buildInventory({
      now: new Date(now),
      namespace: this.o.namespace,
      queue: depth,
      scales: scales.map((s) => ({ ...s, replicas: applied.get(s.name) ?? s.replicas })),
      pods,
      activity,
      nodeLabels: this.o.readNodes ? await this.readNodeLabels(pods, now) : new Map(),
    });
    this.lastSuccessAt = now;
    this.lastError = null;
    return { decision, current, applied };
  }

  private async readNodeLabels(pods: WorkerPod[], now: number): Promise<Map<string, Record<string, string>>> {
    const out = new Map<string, Record<string, string>>();
    for (const node of new Set(pods.map((p) => p.nodeName).filter((n): n is string => !!n))) {
      const cached = this.nodeLabels.get(node);
      if (cached && now - cached.at < NODE_LABEL_TTL_MS) {
        out.set(node, cached.labels);
        continue;
      }
      try {
        const labels = await this.o.kube.readNodeLabels(node);
        this.nodeLabels.set(node, { at: now, labels });
        out.set(node, labels);
      } catch (e) {
        // The inventory is informational: a missing permission must not stop scaling.
        this.o.logger.warn({ node, err: (e as Error).message }, 'cannot read node labels');
      }
    }
    return out;
  }

  /** Runs tick() every intervalMs (never two at once) until stop(). */
  start(intervalMs: number): void {
    const run = () => {
      this.running = this.tick()
        .then(
          () => undefined,
          (e: unknown) => {
            this.lastError = (e as Error).message;
            if (e instanceof ScaleConflictError) this.o.logger.info({ err: e.message }, 'scale changed concurrently; deciding again next tick');
            else this.o.logger.error({ err: e }, 'scaler tick failed');
          },
        )
        .finally(() => {
          this.running = null;
          if (this.timer !== null) this.timer = setTimeout(run, intervalMs);
        });
    };
    this.timer = setTimeout(run, 0);
  }

  async stop(): Promise<void> {
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    await this.running;
  }
}
