import { describe, expect, it } from 'vitest';
import { allocateReplicas, decideReplicas, initialScaleState, type Observation, type ScalePolicy, type ScaleState } from './decideReplicas.ts';

const policy: ScalePolicy = {
  minReplicas: 0,
  maxReplicas: 4,
  tasksPerReplica: 1,
  scaleUpCooldownMs: 30_000,
  scaleDownCooldownMs: 300_000,
  idleBeforeZeroMs: 600_000,
};
const fresh: ScaleState = { lastChangeAt: null, lastBusyAt: null, recent: [] };
const obs = (o: Partial<Observation>): Observation => ({ now: 1_000_000, queued: 0, running: 0, currentReplicas: 0, ...o });

/** Feeds observations in order, carrying state, and returns every decision. */
function run(p: ScalePolicy, start: ScaleState, steps: Partial<Observation>[]) {
  let state = start;
  let current = steps[0].currentReplicas ?? 0;
  return steps.map((s) => {
    const d = decideReplicas(p, obs({ currentReplicas: current, ...s }), state);
    state = d.state;
    current = d.desired;
    return d;
  });
}

describe('decideReplicas', () => {
  it('wakes from zero at once when a task is queued, ignoring the scale-up cooldown', () => {
    const d = decideReplicas(policy, obs({ queued: 1 }), { ...fresh, lastChangeAt: 999_999 });
    expect(d).toMatchObject({ desired: 1, action: 'wake' });
  });

  it('asks for one worker per outstanding task (queued + running), capped at maxReplicas', () => {
    expect(decideReplicas(policy, obs({ queued: 2, running: 1, currentReplicas: 1 }), fresh).desired).toBe(3);
    expect(decideReplicas(policy, obs({ queued: 50, currentReplicas: 1 }), fresh).desired).toBe(4);
  });

  it('rounds up with several tasks per worker', () => {
    expect(decideReplicas({ ...policy, tasksPerReplica: 3 }, obs({ queued: 7, currentReplicas: 1 }), fresh).desired).toBe(3);
  });

  it('holds a scale-up within the cooldown after a change, then scales up', () => {
    const state = { ...fresh, lastChangeAt: 1_000_000 };
    expect(decideReplicas(policy, obs({ now: 1_010_000, queued: 3, currentReplicas: 1 }), state)).toMatchObject({ desired: 1, action: 'hold' });
    expect(decideReplicas(policy, obs({ now: 1_030_000, queued: 3, currentReplicas: 1 }), state)).toMatchObject({ desired: 3, action: 'up' });
  });

  it('scales down only to the highest need of the last window, and only after the down cooldown', () => {
    const t0 = 1_000_000;
    const steps = run(policy, fresh, [
      { now: t0, queued: 0, running: 3, currentReplicas: 3 },
      { now: t0 + 60_000, running: 1 }, // need 1, but 3 were needed 60 s ago
      { now: t0 + 299_000, running: 1 },
      { now: t0 + 300_001, running: 1 }, // the need of 3 left the window
    ]);
    expect(steps.map((d) => [d.action, d.desired])).toEqual([
      ['hold', 3],
      ['hold', 3],
      ['hold', 3],
      ['down', 1],
    ]);
  });

  it('never asks for fewer workers than are busy, whatever the queue says', () => {
    const d = decideReplicas(policy, obs({ queued: 0, running: 0, busyWorkers: 3, currentReplicas: 3 }), fresh);
    expect(d.desired).toBe(3);
    const more = decideReplicas({ ...policy, tasksPerReplica: 4 }, obs({ running: 3, currentReplicas: 3 }), fresh);
    expect(more.desired).toBe(3);
  });

  it('keeps the last worker until nothing was queued or running for idleBeforeZero, then scales to zero', () => {
    const t0 = 2_000_000;
    const steps = run(policy, fresh, [
      { now: t0, running: 1, currentReplicas: 1 },
      { now: t0 + 400_000 }, // idle 400 s: keep 1
      { now: t0 + 599_999 },
      { now: t0 + 600_000 }, // idle 600 s and the window has no need left
    ]);
    expect(steps.map((d) => d.desired)).toEqual([1, 1, 1, 0]);
    expect(steps[3].reason).toMatch(/scale to zero/);
  });

  it('respects minReplicas: never below it, no scale to zero', () => {
    const p = { ...policy, minReplicas: 2 };
    const steps = run(p, fresh, [{ now: 0, currentReplicas: 2 }, { now: 10_000_000 }]);
    expect(steps.map((d) => d.desired)).toEqual([2, 2]);
  });

  it('corrects a replica count edited outside [min, max] at once', () => {
    expect(decideReplicas(policy, obs({ currentReplicas: 9 }), { ...fresh, lastChangeAt: 999_000 })).toMatchObject({ desired: 4, action: 'clamp' });
    expect(decideReplicas({ ...policy, minReplicas: 1 }, obs({ currentReplicas: 0 }), fresh)).toMatchObject({ desired: 1, action: 'clamp' });
  });

  it('after a restart the scaler does not tear down running workers at once', () => {
    const now = 5_000_000;
    const d = decideReplicas(policy, obs({ now, currentReplicas: 3 }), initialScaleState(now, 3));
    expect(d).toMatchObject({ desired: 3, action: 'hold' });
  });

  it('a hold keeps lastChangeAt; a change sets it', () => {
    const held = decideReplicas(policy, obs({ queued: 1, currentReplicas: 1 }), { ...fresh, lastChangeAt: 5 });
    expect(held.state.lastChangeAt).toBe(5);
    const changed = decideReplicas(policy, obs({ queued: 2, currentReplicas: 1 }), fresh);
    expect(changed.state.lastChangeAt).toBe(1_000_000);
  });
});

describe('allocateReplicas', () => {
  const pools = (a: number, b: number) => [
    { name: 'a100', replicas: a },
    { name: 'l4', replicas: b },
  ];
  it('fills Deployments in order of preference', () => {
    expect(Object.fromEntries(allocateReplicas(6, pools(0, 0), 4))).toEqual({ a100: 4, l4: 2 });
  });
  it('empties the last Deployment first', () => {
    expect(Object.fromEntries(allocateReplicas(3, pools(4, 2), 4))).toEqual({ a100: 3, l4: 0 });
  });
  it('never moves replicas between Deployments', () => {
    expect(Object.fromEntries(allocateReplicas(4, pools(1, 3), 4))).toEqual({ a100: 1, l4: 3 });
    expect(Object.fromEntries(allocateReplicas(5, pools(1, 3), 4))).toEqual({ a100: 2, l4: 3 });
  });
});
