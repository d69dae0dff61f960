/**
 * Model sampling: the sigma table a model was trained on, the sigma <-> UNet
 * timestep maps, and how the UNet output becomes a denoised estimate.
 * Three parameterisations Fooocus uses (ComfyUI `model_sampling.py` as
 * vendored in Fooocus `ldm_patched`, plus `contrib/external_model_advanced.py`):
 *
 *  - `discrete_eps`: SDXL's 1000-step scaled-linear DDPM table; eps prediction.
 *  - `distilled_eps` / `distilled_lcm`: the 50-entry table the `tcd` / `lcm`
 *    schedulers switch to (entry j = σ(19 + 20j)); `lcm` also changes the
 *    denoiser to the LCM boundary condition.
 *  - `edm`: Playground v2.5 (continuous EDM, σ_data 0.5).
 *
 * Precision follows Fooocus (`modules/patch_precision.py`): the table is
 * built in float64 and stored as float32, and the log table is the float32
 * log of the float32 sigmas. `sigma(t)` runs in float32 as torch does (the
 * schedules are compared with Fooocus' float32 lists). The quantised
 * timestep is the argmin of |ln σ − ln σ_i| computed in float64 over the
 * float32 σ and the float32 log table, first index on equality: schedules
 * that land on a half-integer timestep put ln σ within 1e-7 of a midpoint,
 * and this is the rule that reproduces torch's float32 choice there (golden
 * README §2.10 "Timestep ties").
 */
import type { Latent, ModelSampling, ModelSamplingKind } from './types.ts';
import { torchLinspace } from './torchLinspace.ts';

const f32 = Math.fround;

/** SDXL `linear` beta schedule (ldm `make_beta_schedule`): linear in sqrt(β). */
const SDXL_LINEAR_START = 0.00085;
const SDXL_LINEAR_END = 0.012;
const DDPM_TIMESTEPS = 1000;

/** LCM/TCD distillation: 50 of the 1000 timesteps, every 20th ending at 999. */
const DISTILLED_ORIGINAL_STEPS = 50;
const DISTILLED_SKIP = DDPM_TIMESTEPS / DISTILLED_ORIGINAL_STEPS;

/** Playground v2.5 EDM range and data std (Fooocus `opModelSamplingContinuousEDM.patch`). */
const EDM_SIGMA_MIN = 0.002;
const EDM_SIGMA_MAX = 120.0;
const EDM_SIGMA_DATA = 0.5;

/** LCM boundary condition (`LCM.calculate_denoised`): σ_data and timestep scaling. */
const LCM_SIGMA_DATA = 0.5;
const LCM_TIMESTEP_SCALING = 10;

interface DdpmTable {
  alphasCumprod: Float64Array;
  sigmas: Float64Array;
  logSigmas: Float64Array;
}

let sdxlTable: DdpmTable | undefined;

/** The SDXL DDPM table, built once (it is a constant of the architecture). */
function sdxlDdpmTable(): DdpmTable {
  if (sdxlTable) return sdxlTable;
  const sqrtBetas = torchLinspace(Math.sqrt(SDXL_LINEAR_START), Math.sqrt(SDXL_LINEAR_END), DDPM_TIMESTEPS, 'float64');
  const alphasCumprod = new Float64Array(DDPM_TIMESTEPS);
  const sigmas = new Float64Array(DDPM_TIMESTEPS);
  const logSigmas = new Float64Array(DDPM_TIMESTEPS);
  let cumprod = 1;
  for (let i = 0; i < DDPM_TIMESTEPS; i++) {
    cumprod *= 1 - sqrtBetas[i] * sqrtBetas[i];
    // Fooocus keeps alphas_cumprod as float32 too; tcd indexes it directly.
    alphasCumprod[i] = f32(cumprod);
    sigmas[i] = f32(Math.sqrt((1 - cumprod) / cumprod));
    logSigmas[i] = f32(Math.log(sigmas[i]));
  }
  sdxlTable = { alphasCumprod, sigmas, logSigmas };
  return sdxlTable;
}

/**
 * Index of the table entry nearest to σ in log space (first on equality).
 * `logSigmas` is ascending, so only the two neighbours of ln σ can win.
 */
function nearestLogIndex(logSigmas: Float64Array, sigma: number): number {
  const logSigma = Math.log(f32(sigma));
  let lo = 0;
  let hi = logSigmas.length - 1;
  if (!(logSigma > logSigmas[lo])) return lo;
  if (logSigma >= logSigmas[hi]) return hi;
  // Invariant: logSigmas[lo] < logSigma <= logSigmas[hi].
  while (hi - lo > 1) {
    const mid = (lo + hi) >> 1;
    if (logSigmas[mid] < logSigma) lo = mid;
    else hi = mid;
  }
  return Math.abs(logSigma - logSigmas[lo]) <= Math.abs(logSigma - logSigmas[hi]) ? lo : hi;
}

/**
 * σ at a fractional table index, as ComfyUI `ModelSamplingDiscrete.sigma`:
 * log-linear between floor and ceil, in float32.
 */
function sigmaAtIndex(logSigmas: Float64Array, index: number): number {
  const t = Math.min(Math.max(f32(index), 0), logSigmas.length - 1);
  const low = Math.floor(t);
  const high = Math.ceil(t);
  const w = f32(t - low);
  const logSigma = f32(f32(f32(1 - w) * logSigmas[low]) + f32(w * logSigmas[high]));
  return f32(Math.exp(logSigma));
}

/**
 * SDXL eps-prediction model sampling (ComfyUI `ModelSamplingDiscrete` + `EPS`).
 * Each instance gets its own copies of the public tables (typed arrays cannot
 * be frozen), so a caller writing into one cannot corrupt another request.
 */
export function discreteEpsSampling(): ModelSampling {
  const { sigmas, logSigmas, alphasCumprod } = sdxlDdpmTable();
  return Object.freeze({
    kind: 'discrete_eps' as const,
    sigmas: sigmas.slice(),
    sigmaMin: sigmas[0],
    sigmaMax: sigmas[sigmas.length - 1],
    sigmaData: 1,
    alphasCumprod: alphasCumprod.slice(),
    timestep: (sigma: number) => nearestLogIndex(logSigmas, sigma),
    sigma: (t: number) => sigmaAtIndex(logSigmas, t),
  });
}

/**
 * The 50-entry distilled table Fooocus installs for the `lcm` and `tcd`
 * schedulers (`ModelSamplingDiscreteDistilled`): timestep(σ) = 20·argmin + 19,
 * σ(t) interpolates at (t − 19)/20 clamped to [0, 49]. `alphasCumprod` stays the
 * full 1000-entry table (TCD indexes it by UNet timestep).
 */
export function distilledSampling(kind: 'distilled_eps' | 'distilled_lcm'): ModelSampling {
  const full = sdxlDdpmTable();
  const sigmas = new Float64Array(DISTILLED_ORIGINAL_STEPS);
  const logSigmas = new Float64Array(DISTILLED_ORIGINAL_STEPS);
  for (let j = 0; j < DISTILLED_ORIGINAL_STEPS; j++) {
    const source = DISTILLED_SKIP - 1 + DISTILLED_SKIP * j;
    sigmas[j] = full.sigmas[source];
    logSigmas[j] = full.logSigmas[source];
  }
  return Object.freeze({
    kind,
    sigmas,
    sigmaMin: sigmas[0],
    sigmaMax: sigmas[sigmas.length - 1],
    sigmaData: 1,
    alphasCumprod: full.alphasCumprod.slice(),
    timestep: (sigma: number) => nearestLogIndex(logSigmas, sigma) * DISTILLED_SKIP + (DISTILLED_SKIP - 1),
    sigma: (t: number) => sigmaAtIndex(logSigmas, f32(f32(t - (DISTILLED_SKIP - 1)) / DISTILLED_SKIP)),
  });
}

/**
 * Playground v2.5 continuous EDM (`ModelSamplingContinuousEDM`, σ_data 0.5):
 * table exp(linspace(ln 0.002, ln 120, 1000)) in float32, fractional timestep
 * 0.25·ln σ. EDM has no DDPM schedule; `alphasCumprod` holds the variance-
 * preserving equivalent 1/(1 + σ²) of each table entry.
 */
export function edmSampling(): ModelSampling {
  const logGrid = torchLinspace(Math.log(EDM_SIGMA_MIN), Math.log(EDM_SIGMA_MAX), DDPM_TIMESTEPS, 'float32');
  const sigmas = new Float64Array(DDPM_TIMESTEPS);
  const alphasCumprod = new Float64Array(DDPM_TIMESTEPS);
  for (let i = 0; i < DDPM_TIMESTEPS; i++) {
    sigmas[i] = f32(Math.exp(logGrid[i]));
    alphasCumprod[i] = f32(1 / (1 + sigmas[i] * sigmas[i]));
  }
  return Object.freeze({
    kind: 'edm' as const,
    sigmas,
    sigmaMin: sigmas[0],
    sigmaMax: sigmas[sigmas.length - 1],
    sigmaData: EDM_SIGMA_DATA,
    alphasCumprod,
    timestep: (sigma: number) => 0.25 * Math.log(sigma),
    sigma: (t: number) => Math.exp(t / 0.25),
  });
}

/** The model sampling for a kind (each call builds a fresh frozen object over shared tables). */
export function modelSamplingFor(kind: ModelSamplingKind): ModelSampling {
  switch (kind) {
    case 'discrete_eps':
      return discreteEpsSampling();
    case 'distilled_eps':
    case 'distilled_lcm':
      return distilledSampling(kind);
    case 'edm':
      return edmSampling();
    default: {
      const never: never = kind;
      throw new Error(`unknown model sampling kind ${String(never)}`);
    }
  }
}

/**
 * k-diffusion's interpolated timestep (`DiscreteSchedule.sigma_to_t` with
 * quantize=False): the fractional table position of ln σ, linear in log σ
 * between its neighbours and clamped to the table; i.e. the inverse of
 * `ms.sigma(t)`. Used by the `interp_t` golden run; ComfyUI/Fooocus quantise.
 * EDM timesteps are already continuous.
 */
export function interpolatedTimestep(ms: ModelSampling, sigma: number): number {
  if (ms.kind === 'edm') return ms.timestep(sigma);
  const logAt = (i: number): number => f32(Math.log(ms.sigmas[i]));
  const logSigma = Math.log(sigma);
  // low = last index with ln σ_i <= ln σ, clamped to [0, len − 2] (tables ascend).
  let low = 0;
  let high = ms.sigmas.length - 2;
  while (low < high) {
    const mid = (low + high + 1) >> 1;
    if (logAt(mid) <= logSigma) low = mid;
    else high = mid - 1;
  }
  const lowLog = logAt(low);
  const highLog = logAt(low + 1);
  const w = Math.min(Math.max((lowLog - logSigma) / (lowLog - highLog), 0), 1);
  const index = low + w;
  return ms.kind === 'discrete_eps' ? index : index * DISTILLED_SKIP + (DISTILLED_SKIP - 1);
}

/** σ_data of the UNet input scaling per kind (ComfyUI: 1 for eps models, 0.5 for EDM). */
export function sigmaDataOf(kind: ModelSamplingKind): number {
  return kind === 'edm' ? EDM_SIGMA_DATA : 1;
}

/**
 * sqrt(σ² + σ_data²): ComfyUI's `calculate_input` divides the latent by this
 * before the UNet call. Divide rather than multiply by the reciprocal to stay
 * on ComfyUI's rounding (golden README §2.10).
 */
export function unetInputDivisor(kind: ModelSamplingKind, sigma: number): number {
  const sd = sigmaDataOf(kind);
  return Math.sqrt(sigma * sigma + sd * sd);
}

/** c_in = 1/sqrt(σ² + σ_data²) (k-diffusion's multiplicative form). */
export function unetInputScale(kind: ModelSamplingKind, sigma: number): number {
  return 1 / unetInputDivisor(kind, sigma);
}

/** x / sqrt(σ² + σ_data²): the UNet input for latent x at σ. */
export function scaleUnetInput(kind: ModelSamplingKind, x: Latent, sigma: number): Float64Array {
  const d = unetInputDivisor(kind, sigma);
  const out = new Float64Array(x.length);
  for (let i = 0; i < x.length; i++) out[i] = x[i] / d;
  return out;
}

/**
 * Denoised estimate from the raw UNet output (`calculate_denoised`):
 *  - eps kinds: x − σ·eps;
 *  - `distilled_lcm`: c_out·(x − σ·eps) + c_skip·x with ts = 10·t (t the
 *    distilled UNet timestep), c_skip = 0.25/(ts² + 0.25), c_out = ts/sqrt(ts² + 0.25);
 *  - `edm`: x·σd²/(σ² + σd²) + out·σ·σd/sqrt(σ² + σd²) (`out` is the raw model
 *    output; the EDM class derives from V_PREDICTION).
 * `t` is only read by the LCM kind.
 */
export function denoisedFromEps(
  kind: ModelSamplingKind,
  x: Latent,
  eps: Float32Array | Float64Array,
  sigma: number,
  t: number,
): Float64Array {
  if (x.length !== eps.length) throw new RangeError(`denoisedFromEps: x has ${x.length} values, model output ${eps.length}`);
  const out = new Float64Array(x.length);
  switch (kind) {
    case 'discrete_eps':
    case 'distilled_eps':
      for (let i = 0; i < x.length; i++) out[i] = x[i] - sigma * eps[i];
      return out;
    case 'distilled_lcm': {
      const ts = t * LCM_TIMESTEP_SCALING;
      const sd2 = LCM_SIGMA_DATA * LCM_SIGMA_DATA;
      const cSkip = sd2 / (ts * ts + sd2);
      const cOut = ts / Math.sqrt(ts * ts + sd2);
      for (let i = 0; i < x.length; i++) out[i] = cOut * (x[i] - sigma * eps[i]) + cSkip * x[i];
      return out;
    }
    case 'edm': {
      const sd = EDM_SIGMA_DATA;
      const v = sigma * sigma + sd * sd;
      const cSkip = (sd * sd) / v;
      const cOut = (sigma * sd) / Math.sqrt(v);
      for (let i = 0; i < x.length; i++) out[i] = x[i] * cSkip + eps[i] * cOut;
      return out;
    }
    default: {
      const never: never = kind;
      throw new Error(`unknown model sampling kind ${String(never)}`);
    }
  }
}
