/**
 * Fooocus inpaint sampling (pipeline.md §3.3 steps 5–6, golden-features
 * README §5 `inpaint_run`): the engine-level entry a worker calls once the
 * crop, its mask and the latents are prepared (inpaint/*.ts,
 * inpaint/encodeVaeInpaint.ts).
 *
 * Models. The base carries the inpaint patch (merged like a LoRA into the
 * base only: `base.withLoras([...loras, { path: patch, weight: 1 }])`) and
 * the head's feature (graph input after conv_in). Without a refiner Fooocus
 * synthesises one: the same base WITHOUT patch and head, taking over at the
 * switch step with the joint swap (F default_pipeline.refresh_everything
 * `use_synthetic_refiner`; async_worker). A real refiner, when the user
 * picked one, runs as in text-to-image, also without patch and head.
 *
 * KSamplerX0Inpaint (F modules/patch.py patched_KSamplerX0Inpaint_forward),
 * on every denoiser call, whichever model runs it:
 *   ε  = the next torch.randn(x.shape) of ONE CPU generator seeded seed + 1
 *        (mod 2^63 − 1, Fooocus' MAX_SEED), kept across the whole run;
 *   x' = x·m + (L + ε·σ)·(1 − m),  L = process_latent_in(latent_fill);
 *   out = D(x')·m + L·(1 − m).
 * m is the latent mask (0 = keep, 1 = repaint), exactly 0 or 1, so each
 * value is either the sampler's or the fill's; the arithmetic is done in
 * float32 where torch does (ε·σ, L + ε·σ).
 */
import { admSwitchTimestep, fooocusAdm } from '../conditioning/admConditioning.ts';
import { initialLatent } from '../diffusion/initialLatent.ts';
import { latentFromVae } from '../diffusion/latentFormat.ts';
import { fooocusSamplingSigmas } from '../diffusion/samplingSigmas.ts';
import { resolveSampler } from '../diffusion/samplers/index.ts';
import { TorchGenerator, torchRandn } from '../diffusion/torchRandn.ts';
import type { Denoiser, Latent, ModelSamplingKind, SamplerStepInfo } from '../diffusion/types.ts';
import type { EncodedInpaint } from '../inpaint/encodeVaeInpaint.ts';
import { inpaintHeadFeature, inpaintHeadFeed, type InpaintHead } from '../inpaint/inpaintHead.ts';
import type { LoraRequest } from '../lora/mergeLoras.ts';
import { EngineInputError } from '../io/engineErrors.ts';
import type { FreeuParams } from '../graphs/freeu.ts';
import { controlApplications, type ControlRequest } from '../controlnet/loadedControlLora.ts';
import type { IpAdapterImage } from '../ipadapter/ipAdapterAttention.ts';
import type { FloatTensor, LoadedCheckpoint } from '../runtime/loadedCheckpoint.ts';
import type { TextConditioning } from './encodePrompt.ts';
import { refinerConditioning, sampleWithRefiner } from './refiner.ts';
import { samplerNoise, VAE_SCALE, type StepEvent } from './textToImage.ts';
import { createUnetDenoiser, type EvalRecord, type SideConditioning } from './unetDenoiser.ts';

/** Fooocus' MAX_SEED (2^63 − 1): the energy generator is seeded `(seed + 1) % MAX_SEED`. */
const MAX_SEED = (1n << 63n) - 1n;

/** The energy generator's seed for an image seed. */
export function energySeed(seed: bigint): bigint {
  return (seed + 1n) % MAX_SEED;
}

/** One KSamplerX0Inpaint call, for tests and golden runs. */
export interface InpaintBlendRecord {
  /** The sampler state handed in. */
  x: Latent;
  sigma: number;
  /** ε of this call (unit normal, before ·σ). */
  energy: Float32Array;
  /** x' as the model saw it. */
  xBlended: Latent;
  /** What the sampler gets back. */
  denoisedBlended: Latent;
}

export interface InpaintBlendOptions {
  /** process_latent_in(latent_fill): the sampling-space fill latent, [1, C, h, w]. */
  fill: ArrayLike<number>;
  /** The latent mask [1, 1, h, w] (0 keep, 1 repaint), broadcast over channels. */
  mask: ArrayLike<number>;
  /** The latent's shape [1, C, h, w]. */
  shape: readonly [number, number, number, number];
  /** Seeds the energy generator (Fooocus: `energySeed(seed)`). */
  seed: bigint;
  onBlend?: (r: InpaintBlendRecord) => void;
}

/**
 * KSamplerX0Inpaint as a denoiser wrapper. The returned `wrap` may wrap
 * several inner denoisers (base, refiner): they share one energy generator,
 * as Fooocus keeps one across the model swap.
 */
export function createInpaintBlend(o: InpaintBlendOptions): (inner: Denoiser) => Denoiser {
  const [, ch, h, w] = o.shape;
  const plane = h * w;
  const size = ch * plane;
  if (o.fill.length !== size) throw new RangeError(`inpaint fill latent has ${o.fill.length} values, expected ${size}`);
  if (o.mask.length !== plane) throw new RangeError(`inpaint latent mask has ${o.mask.length} values, expected ${plane}`);
  const generator = new TorchGenerator(o.seed);
  const f = Math.fround;
  return (inner) => async (x, sigma) => {
    const energy = generator.randn(o.shape);
    const s = f(sigma);
    const xIn = new Float64Array(size);
    for (let i = 0; i < size; i++) {
      const m = o.mask[i % plane];
      xIn[i] = m === 1 ? x[i] : m === 0 ? f(o.fill[i] + f(energy[i] * s)) : x[i] * m + f(o.fill[i] + f(energy[i] * s)) * (1 - m);
    }
    const denoised = await inner(xIn, sigma);
    const out = new Float64Array(size);
    for (let i = 0; i < size; i++) {
      const m = o.mask[i % plane];
      out[i] = m === 1 ? denoised[i] : m === 0 ? o.fill[i] : denoised[i] * m + o.fill[i] * (1 - m);
    }
    o.onBlend?.({ x, sigma, energy, xBlended: xIn, denoisedBlended: out });
    return out;
  };
}

export interface InpaintSettings {
  steps: number;
  sampler: string;
  scheduler: string;
  cfg: number;
  /** Fooocus sharpness; default 2. */
  sharpness?: number;
  /** Fooocus adaptive CFG; default 7. */
  adaptiveCfg?: number;
  /** ADM scalers; default positive 1.5, negative 0.8, end 0.3. */
  adm?: { positive: number; negative: number; end: number };
  /** Inpaint strength (Fooocus' denoise; outpaint forces 1); default 1. */
  denoise?: number;
  /** The image seed: initial noise, sampler noise, and (seed + 1) the energy generator. */
  seed: bigint;
  /** Step at which the refiner (synthetic or real) takes over; `steps` = never. */
  switchStep: number;
  /** Refiner swap; default 'joint' (what Fooocus uses with its synthetic refiner). */
  swapMethod?: 'joint' | 'separate';
  /** FreeU_V2 on the base (Fooocus applies it to final_unet only); default none. */
  freeu?: FreeuParams;
  /** Fooocus `inpaint_disable_initial_latent`: start from the empty latent instead of latent_fill; default false. */
  disableInitialLatent?: boolean;
}

export interface InpaintRunInput {
  /** The base model with the inpaint patch merged (or the plain base when the inpaint engine is off). */
  base: LoadedCheckpoint;
  /**
   * The model after the switch: the synthetic refiner (the base with the
   * user's LoRAs but without the patch) or the user's refiner; null = none.
   */
  refiner: LoadedCheckpoint | null;
  /** The inpaint head's feature [1, model_channels, h, w] for the base; null = no head (engine off). */
  headFeature: FloatTensor | null;
  /** Raw (unscaled) VAE latent of the filled crop, [1, 4, h, w]. */
  latentFill: ArrayLike<number>;
  /** [1, 1, h, w], 0 keep / 1 repaint. */
  latentMask: ArrayLike<number>;
  latentShape: readonly [number, number, number, number];
  positive: TextConditioning;
  negative: TextConditioning;
  settings: InpaintSettings;
  onStep?: (e: StepEvent) => void | Promise<void>;
  /** Every UNet-denoiser evaluation (unblended), with the model that ran it. */
  onEval?: (r: EvalRecord, model: 'base' | 'refiner') => void;
  /** Every KSamplerX0Inpaint call. */
  onBlend?: (r: InpaintBlendRecord) => void;
  signal?: AbortSignal;
  /** Fooocus image prompts on the base (IP-Adapter images, pipeline/imagePromptPreparer.ts); default none. */
  imagePrompts?: readonly IpAdapterImage[];
  /** PyraCanny / CPDS Control-LoRAs on the base, σ ranges from this run's schedule; default none. */
  controls?: readonly ControlRequest[];
}

/** Samples the inpaint crop; returns the sampler's output (sampling space; decode with `decodeLatent`). */
export async function inpaintRun(input: InpaintRunInput): Promise<Latent> {
  const { settings: st, latentShape: shape } = input;
  const [, , lh, lw] = shape;
  const steps = st.steps;
  const sampler = resolveSampler(st.sampler);
  const denoise = st.denoise ?? 1;
  const { sigmas, modelSampling } = fooocusSamplingSigmas({ scheduler: st.scheduler, steps, sampler: sampler.name, denoise });
  const total = sigmas.length - 1;
  if (!Number.isInteger(st.switchStep) || st.switchStep < 0) throw new EngineInputError(`inpaint switch step must be a non-negative integer, got ${st.switchStep}`);
  const fill = latentFromVae(input.latentFill, modelSampling.kind, shape);
  const noise = Float64Array.from(torchRandn(shape, st.seed));
  const xInit = initialLatent({ noise, sigmas, modelSampling, latent: st.disableInitialLatent ? undefined : fill });

  const height = lh * VAE_SCALE;
  const width = lw * VAE_SCALE;
  const adm = st.adm ?? { positive: 1.5, negative: 0.8, end: 0.3 };
  const positive: SideConditioning = { text: input.positive, adm: fooocusAdm(input.positive.pooled, height, width, adm.positive) };
  const negative: SideConditioning = { text: input.negative, adm: fooocusAdm(input.negative.pooled, height, width, adm.negative) };
  const common = {
    modelSampling,
    latentShape: shape,
    cfg: st.cfg,
    guidance: { kind: 'fooocus', sharpness: st.sharpness ?? 2, adaptiveCfg: st.adaptiveCfg ?? 7 } as const,
    admSwitchTimestep: admSwitchTimestep(adm.end),
  };
  let evalModel: 'base' | 'refiner' = 'base';
  const onEval = input.onEval ? (r: EvalRecord) => input.onEval!(r, evalModel) : undefined;
  const blend = createInpaintBlend({ fill, mask: input.latentMask, shape, seed: energySeed(st.seed), onBlend: input.onBlend });
  const base = blend(createUnetDenoiser({
    ...common, model: input.base, positive, negative, freeu: st.freeu, inpaintFeature: input.headFeature ?? undefined, onEval,
    imagePrompts: input.imagePrompts,
    controls: input.controls?.length ? controlApplications(input.controls, (t) => modelSampling.sigma(t)) : undefined,
  }));
  const noiseSource = samplerNoise(sampler.noise, st.seed, shape);
  const onStep = input.onStep
    ? (info: SamplerStepInfo) => input.onStep!({ step: info.i + 1, steps: total, denoised: info.denoised, latentShape: shape })
    : undefined;
  if (!input.refiner || st.switchStep >= total) {
    return sampler.run(base, xInit, sigmas, { model: modelSampling, noise: noiseSource, signal: input.signal, onStep });
  }
  const refinerModel = input.refiner;
  const refiner = blend(createUnetDenoiser({
    ...common,
    model: refinerModel,
    positive: refinerConditioning(refinerModel, input.positive, positive, 'positive', height, width),
    negative: refinerConditioning(refinerModel, input.negative, negative, 'negative', height, width),
    onEval,
  }));
  return sampleWithRefiner({
    sampler, base, refiner, method: st.swapMethod ?? 'joint', switchStep: st.switchStep,
    sigmas, xInit, modelSampling, noise: noiseSource, signal: input.signal, onStep,
    onSwap: (m) => (evalModel = m),
  });
}

/** The two models of a Fooocus inpaint run on one base checkpoint. */
export interface InpaintModels {
  /** Base + user LoRAs + the inpaint patch (weight 1); the base with the LoRAs alone when no patch. */
  patched: LoadedCheckpoint;
  /** The synthetic refiner: base + user LoRAs, no patch. */
  synthetic: LoadedCheckpoint;
}

/**
 * Opens both through the LoRA variants of `base` (the patch is one more
 * entry of the set, merged into the base only, as Fooocus'
 * `base_model_additional_loras`); `patchPath` null = inpaint engine off.
 */
export async function inpaintModels(base: LoadedCheckpoint, opts: { loras: readonly LoraRequest[]; patchPath: string | null }): Promise<InpaintModels> {
  const synthetic = await base.withLoras(opts.loras);
  const patched = opts.patchPath ? await base.withLoras([...opts.loras, { path: opts.patchPath, weight: 1 }]) : synthetic;
  return { patched, synthetic };
}

/**
 * The head's feed and feature for encoded latents: `cat(latent_mask,
 * process_latent_in(latent_inpaint))` (SDXL: ·0.13025) through the head.
 */
export function inpaintHeadFeatureFor(
  head: InpaintHead, latents: Pick<EncodedInpaint, 'latentMask' | 'latentInpaint' | 'latentShape'>, kind: ModelSamplingKind = 'discrete_eps',
): { feed: FloatTensor; feature: FloatTensor } {
  const [, , h, w] = latents.latentShape;
  const feed = inpaintHeadFeed(latents.latentMask, latentFromVae(latents.latentInpaint, kind, latents.latentShape), h, w);
  return { feed, feature: inpaintHeadFeature(head, feed.data, h, w) };
}
