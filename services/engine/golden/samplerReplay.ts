/**
 * Sampler-only replay of a golden sampler run (README §2.10, recipe §4.5b):
 * the sampler runs against a stub denoiser that returns the recorded
 * `eval{j}.denoised` on its j-th call and records what it was called with,
 * and a stub noise source that returns `noise{k}` on its k-th request. No
 * UNet is involved, so every difference is the sampler's own arithmetic (or
 * its σ bookkeeping): float64 samplers reproduce the stored float32 inputs
 * to ≤ 1e-5 relative.
 *
 * Used by the verify-golden `sampler_runs` cases and by the samplers' own
 * replay test.
 */
import { modelSamplingFor } from '../diffusion/modelSampling.ts';
import { resolveSampler } from '../diffusion/samplers/index.ts';
import type { Latent, ModelSamplingKind } from '../diffusion/types.ts';

/** What the replay reads of a `cases.sampler_runs.runs.<run>` record. */
export interface ReplayRun {
  sampler: string;
  model_sampling: string;
  n_evals: number;
}

/** The recorded tensors of a run (`eval{j}.denoised`, `x_init`, `sigmas`, `noise{k}`). */
export interface ReplayTensors {
  has(name: string): boolean;
  latent(name: string): Float64Array;
}

export interface ReplayResult {
  /** Denoiser input x of every call, in call order. */
  xs: Latent[];
  /** Denoiser σ of every call. */
  sigmas: number[];
  /** (σ, σ') of every noise request. */
  noiseCalls: [number, number][];
  /** Progress callbacks: step index, evaluations made when it fired, total steps. */
  callbacks: { i: number; afterEval: number; total: number }[];
  result: Latent;
}

export interface ReplayOptions {
  /** Sees every noise request with the recorded tensor it is answered with. */
  onNoise?: (k: number, sigma: number, sigmaNext: number, recorded: Float64Array) => void;
}

/** cases.json names the EDM runs' model sampling after the scheduler; the engine calls it `edm`. */
export function modelSamplingKind(recorded: string): ModelSamplingKind {
  if (recorded === 'edm_playground_v2.5') return 'edm';
  if (recorded === 'discrete_eps' || recorded === 'distilled_eps' || recorded === 'distilled_lcm') return recorded;
  throw new Error(`unknown model sampling ${recorded}`);
}

export async function replaySamplerRun(run: ReplayRun, tensors: ReplayTensors, opts: ReplayOptions = {}): Promise<ReplayResult> {
  const xs: Latent[] = [];
  const evalSigmas: number[] = [];
  const noiseCalls: [number, number][] = [];
  const callbacks: ReplayResult['callbacks'] = [];
  const { run: sampler } = resolveSampler(run.sampler);
  const result = await sampler(
    async (x, sigma) => {
      const j = xs.length;
      if (j >= run.n_evals) throw new Error(`denoiser called more than the recorded ${run.n_evals} times`);
      xs.push(Float64Array.from(x));
      evalSigmas.push(sigma);
      return tensors.latent(`eval${j}.denoised`);
    },
    tensors.latent('x_init'),
    tensors.latent('sigmas'),
    {
      model: modelSamplingFor(modelSamplingKind(run.model_sampling)),
      noise: (sigma, sigmaNext) => {
        const k = noiseCalls.length;
        noiseCalls.push([sigma, sigmaNext]);
        if (!tensors.has(`noise${k}`)) throw new Error(`noise requested ${k + 1} times, ${k} recorded`);
        const recorded = tensors.latent(`noise${k}`);
        opts.onNoise?.(k, sigma, sigmaNext, recorded);
        return recorded;
      },
      onStep: (info) => {
        callbacks.push({ i: info.i, afterEval: xs.length, total: info.total });
      },
    },
  );
  return { xs, sigmas: evalSigmas, noiseCalls, callbacks, result };
}
