/**
 * A full sampler run with the real UNet, as the engine runs one, recording
 * what a golden run recorded: the pipeline's denoiser (`createUnetDenoiser`,
 * plain CFG as the golden runs use, its `onEval` hook recording every
 * evaluation), the sampler Fooocus resolves for the name, and the sampler's
 * own progress callback (which fires once per step, right after the step's
 * first evaluation: golden `step{i}.*`).
 *
 * Conditioning enters as fixed tensors, the same `y` before and after
 * Fooocus' ADM switch: the golden runs use plain SDXL size conditioning
 * (README §2.7), so the emphasized and consistent vectors coincide.
 */
import { resolveSampler } from '../diffusion/samplers/index.ts';
import type { Latent, ModelSampling, NoiseSampler } from '../diffusion/types.ts';
import type { LoadedCheckpoint } from '../runtime/loadedCheckpoint.ts';
import { createUnetDenoiser, type EvalRecord } from '../pipeline/unetDenoiser.ts';
import type { CaseFile } from './goldenSet.ts';

/** One side's conditioning: context rows [tokens, width] and the ADM vector y. */
export interface SideTensors {
  context: Float32Array;
  tokens: number;
  width: number;
  y: Float32Array;
}

/** `<side>.context` ([1, tokens, width]) and `<side>.y` of a case file. */
export function recordedConditioning(file: CaseFile, side: string): SideTensors {
  const shape = file.shape(`${side}.context`);
  return { context: file.float32(`${side}.context`), tokens: shape[1], width: shape[2], y: file.float32(`${side}.y`) };
}

/**
 * Exact noise replay (README §2.10): the k-th request gets `<prefix><k>`,
 * whatever its σ arguments; the requests are kept for the report.
 */
export function recordedNoise(file: Pick<CaseFile, 'has' | 'latent'>, prefix: string): NoiseSampler & { requests: [number, number][] } {
  const requests: [number, number][] = [];
  const sampler = (sigma: number, sigmaNext: number): Latent => {
    const k = requests.length;
    requests.push([sigma, sigmaNext]);
    if (!file.has(`${prefix}${k}`)) throw new Error(`noise requested ${k + 1} times, ${k} recorded (${prefix}*)`);
    return file.latent(`${prefix}${k}`);
  };
  return Object.assign(sampler, { requests });
}

export interface StepRecord {
  x: Latent;
  denoised: Latent;
  sigma: number;
  /** UNet timestep of the step's first evaluation. */
  t: number;
}

export interface UnetSamplingInput {
  model: LoadedCheckpoint;
  modelSampling: ModelSampling;
  latentShape: readonly [number, number, number, number];
  cond: SideTensors;
  uncond: SideTensors;
  cfg: number;
  /** A Fooocus sampler name (unknown names run as euler, as in Fooocus). */
  sampler: string;
  sigmas: Float64Array;
  xInit: Latent;
  /** Required by the stochastic samplers. */
  noise?: NoiseSampler;
  /** σ → UNet timestep override (the interpolated-t run); default the model sampling's quantised one. */
  timestepOf?: (sigma: number) => number;
}

export interface UnetSamplingRun {
  evals: EvalRecord[];
  steps: StepRecord[];
  xFinal: Latent;
}

export async function sampleWithUnet(input: UnetSamplingInput): Promise<UnetSamplingRun> {
  const evals: EvalRecord[] = [];
  const steps: StepRecord[] = [];
  const side = (s: SideTensors) => ({ text: { context: s.context, tokens: s.tokens, width: s.width }, adm: { emphasized: s.y, consistent: s.y } });
  const denoiser = createUnetDenoiser({
    model: input.model,
    modelSampling: input.modelSampling,
    latentShape: input.latentShape,
    positive: side(input.cond),
    negative: side(input.uncond),
    cfg: input.cfg,
    guidance: { kind: 'plain' },
    // Both ADM vectors are the same tensor here, so where the switch falls does not matter.
    admSwitchTimestep: Infinity,
    timestepOf: input.timestepOf,
    // Copies: the record must not change if a sampler reuses its arrays.
    onEval: (r) => evals.push({ ...r, x: Float64Array.from(r.x), denoised: Float64Array.from(r.denoised) }),
  });
  const sampler = resolveSampler(input.sampler);
  const xFinal = await sampler.run(denoiser, input.xInit, input.sigmas, {
    model: input.modelSampling,
    noise: input.noise,
    onStep: (info) => {
      steps.push({ x: Float64Array.from(info.x), denoised: Float64Array.from(info.denoised), sigma: info.sigma, t: evals[evals.length - 1]?.t ?? NaN });
    },
  });
  return { evals, steps, xFinal };
}
