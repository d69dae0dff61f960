/**
 * One text-to-image generation (one seed), Fooocus's way (pipeline.md §1):
 * sigmas for the scheduler/sampler pair, torch-identical initial noise from
 * the seed (added to an init image's latent for image-to-image, with the
 * denoise-sliced schedule: imageToImage.ts), conditioning with Fooocus's
 * timed ADM, the sampler with the UNet denoiser (FreeU on the base UNet when
 * the job asks; a refiner taking over at the switch step, refiner.ts), then
 * VAE decode and 8-bit conversion.
 */
import { admSwitchTimestep, fooocusAdm } from '../conditioning/admConditioning.ts';
import { controlApplications, type ControlRequest } from '../controlnet/loadedControlLora.ts';
import type { IpAdapterImage } from '../ipadapter/ipAdapterAttention.ts';
import { fooocusSamplingSigmas } from '../diffusion/samplingSigmas.ts';
import { resolveSampler } from '../diffusion/samplers/index.ts';
import { torchRandn } from '../diffusion/torchRandn.ts';
import { emptyLatentIn, latentForVae, latentFromVae } from '../diffusion/latentFormat.ts';
import { initialLatent } from '../diffusion/initialLatent.ts';
import { createBrownianNoise } from '../diffusion/brownian.ts';
import { createSeededNoise } from '../diffusion/seededNoise.ts';
import type { Latent, NoiseSampler } from '../diffusion/types.ts';
import { EngineInputError } from '../io/engineErrors.ts';
import { imageToRgb8 } from '../image/pixels.ts';
import type { TextToImageJob } from '../job.ts';
import type { LoadedCheckpoint } from '../runtime/loadedCheckpoint.ts';
import type { TextConditioning } from './encodePrompt.ts';
import { refinerConditioning, sampleWithRefiner, validateRefinerJob } from './refiner.ts';
import { createUnetDenoiser, type EvalRecord, type SideConditioning } from './unetDenoiser.ts';

export const LATENT_CHANNELS = 4;
export const VAE_SCALE = 8;

export interface StepEvent {
  step: number;
  steps: number;
  /** Model-space x0 estimate after this step (for previews). */
  denoised: Latent;
  latentShape: readonly [number, number, number, number];
}

export interface TextToImageInput {
  model: LoadedCheckpoint;
  job: TextToImageJob;
  seed: bigint;
  positive: TextConditioning;
  negative: TextConditioning;
  onStep?: (e: StepEvent) => void | Promise<void>;
  signal?: AbortSignal;
  /** The loaded `job.refiner` checkpoint; without it the job runs unrefined. */
  refiner?: LoadedCheckpoint;
  /** Every denoiser evaluation, with the model that ran it (golden runs record these). */
  onEval?: (r: EvalRecord, model: 'base' | 'refiner') => void;
  /**
   * Image-to-image: the raw VAE latent of `job.init` (pipeline/imageToImage.ts),
   * [1, 4, height/8, width/8]; the schedule is sliced by `job.init.denoise`.
   * Absent = the empty latent of text-to-image.
   */
  initLatent?: ArrayLike<number>;
  /** Fooocus image prompts on the base (IP-Adapter images, imagePromptPreparer.ts); the refiner gets none. Default none. */
  imagePrompts?: readonly IpAdapterImage[];
  /** PyraCanny / CPDS Control-LoRAs on the base, σ ranges from this job's schedule; default none. */
  controls?: readonly ControlRequest[];
}

export interface RgbImage {
  rgb: Uint8Array;
  width: number;
  height: number;
}

export function latentShapeFor(width: number, height: number): [number, number, number, number] {
  if (width % VAE_SCALE !== 0 || height % VAE_SCALE !== 0) {
    throw new EngineInputError(`width and height must be multiples of ${VAE_SCALE}, got ${width}×${height}`);
  }
  return [1, LATENT_CHANNELS, height / VAE_SCALE, width / VAE_SCALE];
}

/** Noise source for the sampler: Brownian for the SDE family, i.i.d. otherwise, all from the seed. */
export function samplerNoise(kind: 'none' | 'iid' | 'brownian', seed: bigint, shape: readonly number[]): NoiseSampler | undefined {
  if (kind === 'none') return undefined;
  const draw = createSeededNoise(seed, shape);
  return kind === 'brownian' ? createBrownianNoise({ draw }) : () => draw();
}

export async function sampleTextToImage(input: TextToImageInput): Promise<Latent> {
  const { model, job, seed } = input;
  const shape = latentShapeFor(job.width, job.height);
  const sampler = resolveSampler(job.sampler);
  // denoise < 1 (image-to-image): int(steps/denoise) scheduled, the last steps + 1 sampled.
  const denoise = input.initLatent ? job.init?.denoise ?? 1 : 1;
  const { sigmas, modelSampling } = fooocusSamplingSigmas({ scheduler: job.scheduler, steps: job.steps, sampler: sampler.name, denoise });
  const noise = Float64Array.from(torchRandn(shape, seed));
  if (input.initLatent && input.initLatent.length !== noise.length) {
    throw new EngineInputError(`init latent has ${input.initLatent.length} values, the ${job.width}×${job.height} job needs ${noise.length}`);
  }
  const latent = input.initLatent
    ? latentFromVae(input.initLatent, modelSampling.kind, shape)
    : modelSampling.kind === 'edm' ? emptyLatentIn(modelSampling.kind, shape) : undefined;
  const xInit = initialLatent({ noise, sigmas, modelSampling, latent });
  const adm = job.adm ?? { positive: 1.5, negative: 0.8, end: 0.3 };
  const positive: SideConditioning = { text: input.positive, adm: fooocusAdm(input.positive.pooled, job.height, job.width, adm.positive) };
  const negative: SideConditioning = { text: input.negative, adm: fooocusAdm(input.negative.pooled, job.height, job.width, adm.negative) };
  const common = {
    modelSampling,
    latentShape: shape,
    cfg: job.cfg,
    guidance: { kind: 'fooocus', sharpness: job.sharpness ?? 2, adaptiveCfg: job.adaptiveCfg ?? 7 } as const,
    admSwitchTimestep: admSwitchTimestep(adm.end),
  };
  let evalModel: 'base' | 'refiner' = 'base';
  const onEval = input.onEval ? (r: EvalRecord) => input.onEval!(r, evalModel) : undefined;
  // FreeU patches the base UNet only (Fooocus applies it to final_unet, never to the refiner).
  // Image prompts and ControlNets too: Fooocus patches final_unet and the base conds only.
  const denoiser = createUnetDenoiser({
    ...common, model, positive, negative, freeu: job.freeu, onEval,
    imagePrompts: input.imagePrompts,
    controls: input.controls?.length ? controlApplications(input.controls, (t) => modelSampling.sigma(t)) : undefined,
  });
  const steps = sigmas.length - 1;
  const samplerNoiseSource = samplerNoise(sampler.noise, seed, shape);
  const onStep = input.onStep
    ? (info: { i: number; denoised: Latent }) => input.onStep!({ step: info.i + 1, steps, denoised: info.denoised, latentShape: shape })
    : undefined;
  if (job.refiner && input.refiner) {
    validateRefinerJob(job.refiner, steps);
    const refiner = input.refiner;
    // h, w = latent × 8: what ComfyUI's encode_model_conds passes to the refiner's encode_adm.
    const [, , lh, lw] = shape;
    const refinerDenoiser = createUnetDenoiser({
      ...common,
      model: refiner,
      positive: refinerConditioning(refiner, input.positive, positive, 'positive', lh * VAE_SCALE, lw * VAE_SCALE),
      negative: refinerConditioning(refiner, input.negative, negative, 'negative', lh * VAE_SCALE, lw * VAE_SCALE),
      onEval,
    });
    return sampleWithRefiner({
      sampler, base: denoiser, refiner: refinerDenoiser,
      method: job.refiner.swapMethod as 'joint' | 'separate', switchStep: job.refiner.switchStep,
      sigmas, xInit, modelSampling, noise: samplerNoiseSource, signal: input.signal, onStep,
      onSwap: (m) => (evalModel = m),
    });
  }
  return sampler.run(denoiser, xInit, sigmas, { model: modelSampling, noise: samplerNoiseSource, signal: input.signal, onStep });
}

/** Whatever decodes latents: a checkpoint's built-in VAE or a separate one (LoadedVae). */
export type LatentDecoder = Pick<LoadedCheckpoint, 'decode'>;

export async function decodeLatent(model: LatentDecoder, latent: Latent, kind: import('../diffusion/types.ts').ModelSamplingKind, shape: readonly number[]): Promise<RgbImage> {
  const z = Float32Array.from(latentForVae(latent, kind, shape));
  const image = await model.decode({ data: z, dims: shape });
  const [, , h, w] = image.dims;
  return { rgb: imageToRgb8(image.data, h, w), width: w, height: h };
}
