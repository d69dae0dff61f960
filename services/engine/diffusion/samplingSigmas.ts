/**
 * The sigmas Fooocus samples with for a request, and the model sampling they
 * belong to — every rule that sits between the scheduler name a user picks
 * and the list a sampler receives (golden README §2.10/§2.11; Fooocus 2.5.5
 * `modules/async_worker.py` scheduler patching, `modules/default_pipeline.py`
 * and the `ldm_patched` KSampler):
 *
 *  1. Scheduler name → model sampling + core scheduler: `lcm`/`tcd` install the
 *     50-entry distilled sampling and run `sgm_uniform` on it (`lcm` also the
 *     LCM denoiser); `edm_playground_v2.5` installs EDM and runs `karras`
 *     between its table ends; `turbo` and `align_your_steps` are unknown to
 *     the sampler core and fall back to `normal` (Fooocus' own
 *     `calculate_sigmas` computes their real lists, but only for its log line
 *     and the Brownian range: `fooocusCalculateSigmas`). Any other name is an
 *     error, as in Fooocus.
 *  2. dpm_2, dpm_2_ancestral, uni_pc, uni_pc_bh2 schedule n + 1 steps and drop
 *     the penultimate sigma (KSampler `DISCARD_PENULTIMATE_SIGMA_SAMPLERS`).
 *  3. denoise < 1 (Vary, Upscale): schedule int(steps/denoise) steps, keep the
 *     last steps + 1 values.
 *  4. Fooocus samples with last_step = steps and force_full_denoise: a list
 *     longer than steps + 1 (ddim_uniform) is cut there and ends in 0.
 */
import { EngineInputError } from '../io/engineErrors.ts';
import { discreteEpsSampling, distilledSampling, edmSampling } from './modelSampling.ts';
import { alignYourStepsSigmas } from './schedulers/alignYourSteps.ts';
import { schedulerSigmas, type SamplingSchedulerName } from './schedulers/schedulerSigmas.ts';
import { sdTurboSigmas } from './schedulers/sdTurbo.ts';
import type { ModelSampling } from './types.ts';

/** Every scheduler name Fooocus / FooocusAPI accept (`modules/flags.py`). */
export const FOOOCUS_SCHEDULER_NAMES = [
  'normal',
  'karras',
  'exponential',
  'sgm_uniform',
  'simple',
  'ddim_uniform',
  'lcm',
  'turbo',
  'align_your_steps',
  'tcd',
  'edm_playground_v2.5',
] as const;
export type FooocusSchedulerName = (typeof FOOOCUS_SCHEDULER_NAMES)[number];

/** Samplers whose KSampler schedule is computed for n + 1 steps with the penultimate sigma dropped. */
const DISCARD_PENULTIMATE_SAMPLERS: ReadonlySet<string> = new Set(['dpm_2', 'dpm_2_ancestral', 'uni_pc', 'uni_pc_bh2']);
/** Fooocus' own `calculate_sigmas_all` only knows the first two. */
const CALCULATE_SIGMAS_DISCARD_SAMPLERS: ReadonlySet<string> = new Set(['dpm_2', 'dpm_2_ancestral']);

/** Above this denoise Fooocus treats a request as full denoise (`denoise > 0.9999`). */
const FULL_DENOISE_THRESHOLD = 0.9999;

/** A scheduler name Fooocus does not know (its `calculate_sigmas` raises for it). */
export class UnknownSchedulerError extends EngineInputError {
  constructor(readonly scheduler: string) {
    super(`unknown scheduler "${scheduler}"; expected one of ${FOOOCUS_SCHEDULER_NAMES.join(', ')}`);
    this.name = 'UnknownSchedulerError';
  }
}

export function isFooocusSchedulerName(name: string): name is FooocusSchedulerName {
  return (FOOOCUS_SCHEDULER_NAMES as readonly string[]).includes(name);
}

interface SchedulerPlan {
  modelSampling: ModelSampling;
  /** The name Fooocus passes on after its patching (turbo / align_your_steps survive here). */
  requested: Exclude<FooocusSchedulerName, 'lcm' | 'tcd' | 'edm_playground_v2.5'>;
}

function planScheduler(scheduler: string): SchedulerPlan {
  if (!isFooocusSchedulerName(scheduler)) throw new UnknownSchedulerError(scheduler);
  switch (scheduler) {
    case 'lcm':
      return { modelSampling: distilledSampling('distilled_lcm'), requested: 'sgm_uniform' };
    case 'tcd':
      return { modelSampling: distilledSampling('distilled_eps'), requested: 'sgm_uniform' };
    case 'edm_playground_v2.5':
      return { modelSampling: edmSampling(), requested: 'karras' };
    default:
      return { modelSampling: discreteEpsSampling(), requested: scheduler };
  }
}

function validateSteps(steps: number, denoise: number): void {
  if (!Number.isInteger(steps) || steps < 1) throw new EngineInputError(`steps must be a positive integer, got ${steps}`);
  if (!(denoise > 0 && denoise <= 1)) throw new EngineInputError(`denoise must be in (0, 1], got ${denoise}`);
}

/** Steps to schedule for a denoise strength (int(steps/denoise), Python truncation). */
function scheduledSteps(steps: number, denoise: number): number {
  return denoise > FULL_DENOISE_THRESHOLD ? steps : Math.trunc(steps / denoise);
}

/** Keep the last steps + 1 values when a longer schedule was computed for denoise < 1. */
function keepDenoisedTail(sigmas: Float64Array, steps: number, denoise: number): Float64Array {
  return denoise > FULL_DENOISE_THRESHOLD ? sigmas : sigmas.slice(Math.max(0, sigmas.length - (steps + 1)));
}

function discardPenultimate(sigmas: Float64Array): Float64Array {
  const out = new Float64Array(sigmas.length - 1);
  out.set(sigmas.subarray(0, sigmas.length - 2));
  out[out.length - 1] = sigmas[sigmas.length - 1];
  return out;
}

export interface FooocusSigmasRequest {
  /** A Fooocus scheduler name; anything else throws UnknownSchedulerError. */
  scheduler: string;
  /** Sampling steps (positive integer). */
  steps: number;
  /** Denoise strength in (0, 1]; default 1 (txt2img). */
  denoise?: number;
  /** Sampler name; only decides the discard-penultimate rule (unknown names sample as euler). */
  sampler: string;
}

export interface FooocusSamplingSigmas {
  /** The list the sampler receives: steps + 1 values, the last 0. */
  sigmas: Float64Array;
  /** Model sampling to denoise and to derive timesteps with. */
  modelSampling: ModelSampling;
  /** The core scheduler that produced `sigmas` (after every fallback). */
  schedulerUsed: SamplingSchedulerName;
  /** What Fooocus asked the core for (after lcm/tcd → sgm_uniform, edm → karras; turbo/AYS kept). */
  schedulerRequested: SchedulerPlan['requested'];
}

/** The sigmas Fooocus samples with for a request (the KSampler path). */
export function fooocusSamplingSigmas(request: FooocusSigmasRequest): FooocusSamplingSigmas {
  const { scheduler, steps, sampler } = request;
  const denoise = request.denoise ?? 1;
  const plan = planScheduler(scheduler);
  validateSteps(steps, denoise);
  const schedulerUsed: SamplingSchedulerName =
    plan.requested === 'turbo' || plan.requested === 'align_your_steps' ? 'normal' : plan.requested;
  const discard = DISCARD_PENULTIMATE_SAMPLERS.has(sampler);

  const n = scheduledSteps(steps, denoise);
  let sigmas = schedulerSigmas(schedulerUsed, plan.modelSampling, discard ? n + 1 : n);
  if (discard) sigmas = discardPenultimate(sigmas);
  sigmas = keepDenoisedTail(sigmas, steps, denoise);
  if (steps < sigmas.length - 1) {
    sigmas = sigmas.slice(0, steps + 1);
    sigmas[steps] = 0;
  }
  return { sigmas, modelSampling: plan.modelSampling, schedulerUsed, schedulerRequested: plan.requested };
}

/**
 * Fooocus' own `calculate_sigmas` (`modules/sample_hijack.py`): what it logs
 * as "[Sampler] sigma_min/max" and seeds the Brownian tree's range with. Not
 * the sampled list: turbo / align_your_steps return their real SD-Turbo / AYS
 * sigmas here, and only dpm_2 / dpm_2_ancestral drop the penultimate sigma.
 */
export function fooocusCalculateSigmas(request: FooocusSigmasRequest): Float64Array {
  const { scheduler, steps, sampler } = request;
  const denoise = request.denoise ?? 1;
  const plan = planScheduler(scheduler);
  validateSteps(steps, denoise);
  const discard = CALCULATE_SIGMAS_DISCARD_SAMPLERS.has(sampler);

  const n = scheduledSteps(steps, denoise) + (discard ? 1 : 0);
  let sigmas: Float64Array;
  if (plan.requested === 'turbo') sigmas = sdTurboSigmas(plan.modelSampling, n);
  else if (plan.requested === 'align_your_steps') sigmas = alignYourStepsSigmas(n);
  else sigmas = schedulerSigmas(plan.requested, plan.modelSampling, n);
  if (discard) sigmas = discardPenultimate(sigmas);
  return keepDenoisedTail(sigmas, steps, denoise);
}
