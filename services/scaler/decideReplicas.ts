/**
 * How many workers there should be, as a pure function of what was observed and what was
 * decided before. No I/O: scalerLoop.ts feeds it and applies the result.
 *
 * The rules, in order (each exists for a reason):
 * 1. Need = ceil((queued + running) / tasksPerReplica), clamped to [min, max].
 * 2. Never below the busy workers: scale-in removes idle pods (pod-deletion-cost), and asking
 *    for fewer pods than are working would make the ReplicaSet kill a busy one.
 * 3. Scale up at once from zero (a task is waiting and nobody can take it), otherwise no sooner
 *    than scaleUpCooldown after the last change (pods need time to start and pull models).
 * 4. Scale down to the highest need seen over the last scaleDownCooldown (HPA's stabilisation
 *    window), and no sooner than scaleDownCooldown after the last change: a burst that pauses
 *    for a minute must not tear down warm GPUs.
 * 5. The last worker goes only after idleBeforeZero with nothing queued or running.
 * 6. A replica count outside [min, max] (edited by hand) is corrected at once.
 */

export interface ScalePolicy {
  minReplicas: number;
  maxReplicas: number;
  tasksPerReplica: number;
  scaleUpCooldownMs: number;
  scaleDownCooldownMs: number;
  idleBeforeZeroMs: number;
}

export interface Observation {
  now: number;
  /** Tasks waiting for a worker. */
  queued: number;
  /** Tasks a worker holds (JetStream ack-pending, or status running). */
  running: number;
  /** Pods known to be working on a task; defaults to `running` when unknown. */
  busyWorkers?: number;
  /** Replicas currently asked for (the Deployment's spec.replicas, summed). */
  currentReplicas: number;
}

/** What the scaler remembers between decisions. Start with initialScaleState(). */
export interface ScaleState {
  lastChangeAt: number | null;
  lastBusyAt: number | null;
  /** Recent need, for the scale-down window. */
  recent: { at: number; need: number }[];
}

export type ScaleAction = 'up' | 'down' | 'hold' | 'wake' | 'clamp';

export interface ScaleDecision {
  desired: number;
  action: ScaleAction;
  reason: string;
  state: ScaleState;
}

/**
 * The state a (re)started scaler begins with: it has no history, so it acts as if the current
 * replicas were needed and a task had just finished. A restart then never tears workers down
 * at once; they go after the usual scale-down window and idle time.
 */
export function initialScaleState(now: number, currentReplicas: number): ScaleState {
  return { lastChangeAt: null, lastBusyAt: now, recent: [{ at: now, need: currentReplicas }] };
}

const clamp = (v: number, lo: number, hi: number) => Math.min(hi, Math.max(lo, v));

export function decideReplicas(policy: ScalePolicy, obs: Observation, prev: ScaleState): ScaleDecision {
  const { now, currentReplicas: current } = obs;
  const outstanding = Math.max(0, obs.queued) + Math.max(0, obs.running);
  const busy = Math.max(0, obs.busyWorkers ?? obs.running);
  const lastBusyAt = outstanding > 0 ? now : prev.lastBusyAt;

  // Rules 1 and 2: what the tasks need right now.
  let need = clamp(Math.ceil(outstanding / policy.tasksPerReplica), policy.minReplicas, policy.maxReplicas);
  need = Math.max(need, Math.min(busy, policy.maxReplicas));

  // Rule 4's window: the highest need seen within scaleDownCooldown.
  const recent = [...prev.recent.filter((r) => now - r.at < policy.scaleDownCooldownMs), { at: now, need }];
  const windowNeed = Math.max(...recent.map((r) => r.need));
  // Rule 5: one worker stays until the queue has been empty for idleBeforeZero.
  const idleLongEnough = lastBusyAt === null || now - lastBusyAt >= policy.idleBeforeZeroMs;
  const downTarget = Math.max(windowNeed, current > 0 && !idleLongEnough ? 1 : 0);
  const base: ScaleState = { lastChangeAt: prev.lastChangeAt, lastBusyAt, recent };
  const sinceChange = prev.lastChangeAt === null ? Infinity : now - prev.lastChangeAt;
  const change = (desired: number, action: ScaleAction, reason: string): ScaleDecision => ({
    desired,
    action,
    reason,
    state: { ...base, lastChangeAt: now },
  });
  const hold = (reason: string): ScaleDecision => ({ desired: current, action: 'hold', reason, state: base });

  // Rule 6.
  if (current > policy.maxReplicas) return change(policy.maxReplicas, 'clamp', `above maxReplicas ${policy.maxReplicas}`);
  if (current < policy.minReplicas) return change(policy.minReplicas, 'clamp', `below minReplicas ${policy.minReplicas}`);

  if (need > current) {
    // Rule 3.
    if (current === 0) return change(need, 'wake', `${outstanding} task(s) outstanding and no worker`);
    if (sinceChange < policy.scaleUpCooldownMs) return hold(`need ${need}, scale-up cooldown`);
    return change(need, 'up', `${outstanding} task(s) outstanding need ${need} worker(s)`);
  }
  if (downTarget < current) {
    if (sinceChange < policy.scaleDownCooldownMs) return hold(`need ${downTarget}, scale-down cooldown`);
    if (downTarget === 0) return change(0, 'down', `idle for ${Math.round((now - (lastBusyAt ?? now)) / 1000)} s: scale to zero`);
    return change(downTarget, 'down', `need ${downTarget} over the last ${Math.round(policy.scaleDownCooldownMs / 1000)} s`);
  }
  if (need < current) return hold(`need ${need}, keeping ${current} (scale-down window or idle time)`);
  return hold('steady');
}

/**
 * Splits a total over Deployments listed in order of preference: growth fills the first
 * Deployment with room, shrinking empties the last one first, so replicas never move
 * between pools (which would restart warm workers for nothing).
 */
export function allocateReplicas(desiredTotal: number, current: { name: string; replicas: number }[], maxPerDeployment: number): Map<string, number> {
  const out = new Map(current.map((d) => [d.name, Math.min(d.replicas, maxPerDeployment)]));
  let total = [...out.values()].reduce((a, b) => a + b, 0);
  for (const d of current) {
    while (total < desiredTotal && out.get(d.name)! < maxPerDeployment) {
      out.set(d.name, out.get(d.name)! + 1);
      total++;
    }
  }
  for (const d of [...current].reverse()) {
    while (total > desiredTotal && out.get(d.name)! > 0) {
      out.set(d.name, out.get(d.name)! - 1);
      total--;
    }
  }
  return out;
}
