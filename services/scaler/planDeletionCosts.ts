/**
 * Which pods the ReplicaSet should remove first when the scaler lowers replicas.
 *
 * Kubernetes' ReplicaSet controller deletes, among Ready pods, those with the lowest
 * `controller.kubernetes.io/pod-deletion-cost` annotation first (beta and on by default since
 * 1.22). Before scaling in, the scaler marks idle workers cheap and busy ones expensive, so the
 * pods that go are the ones with no task. The worker still drains on SIGTERM (finish or release
 * its task), which covers the race where an idle pod takes a task between the annotation and
 * the scale-down.
 */

export const POD_DELETION_COST = 'controller.kubernetes.io/pod-deletion-cost';

/** Cost of an idle worker: removed first. */
export const IDLE_COST = 0;
/** Cost of a worker running a task: removed last. */
export const BUSY_COST = 1000;

export interface PodCostInput {
  name: string;
  /** The annotation's current value, if any. */
  deletionCost: number | null;
}

export interface CostPatch {
  pod: string;
  cost: number;
}

/** The annotation changes to make (pods already carrying the right value are left alone). */
export function planDeletionCosts(pods: PodCostInput[], busyPods: ReadonlySet<string>): CostPatch[] {
  const patches: CostPatch[] = [];
  for (const p of pods) {
    const cost = busyPods.has(p.name) ? BUSY_COST : IDLE_COST;
    if (p.deletionCost !== cost) patches.push({ pod: p.name, cost });
  }
  return patches;
}
