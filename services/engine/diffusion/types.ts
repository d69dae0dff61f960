/**
 * Shared contracts of the diffusion code: model sampling (sigma tables and the
 * denoiser parameterisation), the denoiser a sampler calls, and the noise
 * source a stochastic sampler draws from. Samplers and schedulers depend on
 * these shapes only, so a sampler can be replayed against recorded golden
 * data (stub denoiser, stub noise) exactly as it runs against the UNet.
 *
 * Latents are flat Float32Array/Float64Array in NCHW order; samplers do their
 * arithmetic in float64 (golden README §2.10: float64 sampler arithmetic
 * reproduces the stored float32 values to <= 1e-5 relative).
 */

export type Latent = Float64Array;

/** Which denoiser parameterisation a model sampling uses. */
export type ModelSamplingKind = 'discrete_eps' | 'distilled_eps' | 'distilled_lcm' | 'edm';

export interface ModelSampling {
  readonly kind: ModelSamplingKind;
  /** Ascending sigma table (float32 values held as numbers). */
  readonly sigmas: Float64Array;
  readonly sigmaMin: number;
  readonly sigmaMax: number;
  /** Data std (1 for eps models, 0.5 for EDM). */
  readonly sigmaData: number;
  /** UNet timestep for a sigma (quantised for discrete tables, fractional for EDM). */
  timestep(sigma: number): number;
  /** Sigma for a (possibly fractional) timestep. */
  sigma(t: number): number;
  /** alphas_cumprod of the underlying 1000-step DDPM table (tcd/ddpm need it). */
  readonly alphasCumprod: Float64Array;
}

/**
 * Denoiser D(x, sigma) -> denoised x0 estimate. Async because the real one
 * runs the UNet through onnxruntime; the golden replay returns recorded data.
 */
export type Denoiser = (x: Latent, sigma: number) => Promise<Latent>;

/**
 * Noise for stochastic samplers. `sigma`/`sigmaNext` are the interval the
 * sampler asks about (Brownian samplers use them; i.i.d. sources ignore them).
 * Returns a fresh standard-normal tensor of the latent's size.
 */
export type NoiseSampler = (sigma: number, sigmaNext: number) => Latent;

export interface SamplerStepInfo {
  /** Index of the step in `sigmas` (0-based). */
  i: number;
  /** Total number of steps (sigmas.length - 1). */
  total: number;
  x: Latent;
  denoised: Latent;
  sigma: number;
}

export interface SamplerOptions {
  model: ModelSampling;
  /** Required by stochastic samplers; an error names the sampler if missing. */
  noise?: NoiseSampler;
  /** Called after each step, as k-diffusion's callback. May throw to abort. */
  onStep?: (info: SamplerStepInfo) => void | Promise<void>;
  signal?: AbortSignal;
}

export type SamplerFn = (
  denoise: Denoiser,
  xInit: Latent,
  sigmas: Float64Array,
  opts: SamplerOptions,
) => Promise<Latent>;
