/**
 * Restart sampling (Xu et al. 2023), ComfyUI `sample_restart` with its
 * automatic restart list, s_noise 1.
 *
 * From 20 steps up the sampler replaces the schedule it was given: karras over
 * (steps − 9·K) intervals between the last nonzero and the first sigma, plus K
 * restart segments of karras(10 or steps/4+1) from the sigma nearest 0.1 back
 * up to the sigma nearest 2, run after reaching the former (K = 1 below 36
 * steps, 2 from 36). Every interval is a Heun step (Euler into 0); jumping
 * back up adds noise·sqrt(σ_b² − σ_a²). Below 20 steps it is plain Heun on the
 * given schedule.
 *
 * Its karras schedules come from the scheduler code (float32 as torch computes
 * them): they are built inside the sampler, so they must match Fooocus value
 * for value to land on the same UNet timesteps; the golden `restart_step_list`
 * checks them through `restartStepList`.
 */
import type { SamplerFn } from '../types.ts';
import { karrasSigmas } from '../schedulers/karras.ts';
import { reportStep, requireNoise, throwIfAborted } from './stepProtocol.ts';

export type SigmaInterval = readonly [from: number, to: number];

/** The (σ_from, σ_to) intervals restart walks, in order. */
export function restartStepList(sigmasIn: Float64Array): SigmaInterval[] {
  const steps = sigmasIn.length - 1;
  let sigmas = sigmasIn;
  let restart: { atSigma: number; steps: number; times: number; maxSigma: number } | null = null;
  if (steps >= 20) {
    let restartSteps = 9;
    let restartTimes = 1;
    if (steps >= 36) {
      restartSteps = Math.floor(steps / 4);
      restartTimes = 2;
    }
    sigmas = karrasSigmas(steps - restartSteps * restartTimes, sigmasIn[sigmasIn.length - 2], sigmasIn[0]);
    restart = { atSigma: 0.1, steps: restartSteps + 1, times: restartTimes, maxSigma: 2 };
  }
  const restartIndex = restart ? nearestIndex(sigmas, restart.atSigma) : -1;
  const list: SigmaInterval[] = [];
  for (let i = 0; i < sigmas.length - 1; i++) {
    list.push([sigmas[i], sigmas[i + 1]]);
    if (restart && i + 1 === restartIndex) {
      const minIdx = i + 1;
      const maxIdx = nearestIndex(sigmas, restart.maxSigma);
      if (maxIdx < minIdx) {
        const segment = karrasSigmas(restart.steps, sigmas[minIdx], sigmas[maxIdx]).subarray(0, restart.steps);
        for (let r = 0; r < restart.times; r++) {
          for (let j = 0; j + 1 < segment.length; j++) list.push([segment[j], segment[j + 1]]);
        }
      }
    }
  }
  return list;
}

export const sampleRestart: SamplerFn = async (denoise, xInit, sigmas, opts) => {
  const noise = requireNoise(opts, 'restart');
  const stepList = restartStepList(sigmas);
  const total = stepList.length;
  let x = xInit;
  let lastSigma: number | null = null;
  for (let i = 0; i < total; i++) {
    throwIfAborted(opts);
    const [oldSigma, newSigma] = stepList[i];
    const n = x.length;
    if (lastSigma !== null && lastSigma < oldSigma) {
      const z = noise(lastSigma, oldSigma);
      const c = Math.sqrt(oldSigma * oldSigma - lastSigma * lastSigma);
      const renoised = new Float64Array(n);
      for (let k = 0; k < n; k++) renoised[k] = x[k] + z[k] * c;
      x = renoised;
    }
    const denoised = await denoise(x, oldSigma);
    await reportStep(opts, { i, total, x, denoised, sigma: oldSigma });
    const dt = newSigma - oldSigma;
    const d = new Float64Array(n);
    for (let k = 0; k < n; k++) d[k] = (x[k] - denoised[k]) / oldSigma;
    const next = new Float64Array(n);
    if (newSigma === 0) {
      for (let k = 0; k < n; k++) next[k] = x[k] + d[k] * dt;
    } else {
      const x2 = new Float64Array(n);
      for (let k = 0; k < n; k++) x2[k] = x[k] + d[k] * dt;
      const denoised2 = await denoise(x2, newSigma);
      for (let k = 0; k < n; k++) next[k] = x[k] + ((d[k] + (x2[k] - denoised2[k]) / newSigma) / 2) * dt;
    }
    x = next;
    lastSigma = newSigma;
  }
  return x;
};

/** torch.argmin(|sigmas − value|): first index on ties. */
function nearestIndex(sigmas: Float64Array, value: number): number {
  let best = 0;
  for (let i = 1; i < sigmas.length; i++) {
    if (Math.abs(sigmas[i] - value) < Math.abs(sigmas[best] - value)) best = i;
  }
  return best;
}
