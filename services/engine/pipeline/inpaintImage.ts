/**
 * One Fooocus inpaint image on a prepared crop (TextToImageJob.inpaint;
 * F modules/async_worker.py apply_inpaint + process_task, pipeline.md §3.3
 * steps 4–7): encode_vae_inpaint of the crop, the head's feature for the
 * patched base, KSamplerX0Inpaint sampling (pipeline/inpaint.ts), decode, and
 * Fooocus' post-process (Lanczos back into the interested area, pasted, blended
 * with the canvas through the soft mask). The result has the canvas' size.
 *
 * The encode is deterministic (seeded by `encodeSeed`), so a task that runs one
 * engine job per image gets the same latents for every image, as Fooocus'
 * encode-once-per-task does.
 */
import type { ModelSamplingKind } from '../diffusion/types.ts';
import { encodeVaeInpaint } from '../inpaint/encodeVaeInpaint.ts';
import type { InpaintHead } from '../inpaint/inpaintHead.ts';
import { inpaintPostProcess } from '../inpaint/postProcess.ts';
import type { InpaintJob, TextToImageJob } from '../job.ts';
import type { U8Image } from '../image/resampleLanczos.ts';
import type { LoadedCheckpoint } from '../runtime/loadedCheckpoint.ts';
import type { TextConditioning } from './encodePrompt.ts';
import type { PixelEncoder } from './imageToImage.ts';
import { inpaintHeadFeatureFor, inpaintRun, type InpaintRunInput } from './inpaint.ts';
import { decodeLatent, type LatentDecoder, type StepEvent } from './textToImage.ts';

export interface InpaintImageInput {
  job: TextToImageJob & { inpaint: InpaintJob };
  /** Base + LoRAs + the inpaint patch (the plain variant when the inpaint engine is off). */
  patched: LoadedCheckpoint;
  /** The model after the switch: the user's refiner, the synthetic refiner, or null. */
  refiner: LoadedCheckpoint | null;
  switchStep: number;
  swapMethod: 'joint' | 'separate';
  /** The head (null when the inpaint engine is off). */
  head: InpaintHead | null;
  /** The job's VAE (job.vae or the checkpoint's own). */
  vae: PixelEncoder & LatentDecoder;
  kind: ModelSamplingKind;
  seed: bigint;
  positive: TextConditioning;
  negative: TextConditioning;
  onStep?: (e: StepEvent) => void | Promise<void>;
  signal?: AbortSignal;
  /** Image prompts and Control-LoRAs on the patched base (pipeline/imagePromptPreparer.ts); default none. */
  imagePrompts?: InpaintRunInput['imagePrompts'];
  controls?: InpaintRunInput['controls'];
}

/** Samples, decodes and post-processes one image: HWC RGB of the canvas' size. */
export async function generateInpaintImage(input: InpaintImageInput): Promise<U8Image> {
  const { job } = input;
  const { prepared, denoise } = job.inpaint;
  const crop: U8Image = { ...prepared.image };
  const encoded = await encodeVaeInpaint({
    encoder: input.vae,
    image: crop,
    mask: { data: prepared.mask, width: crop.width, height: crop.height, channels: 1 },
    fill: { data: prepared.fill, width: crop.width, height: crop.height, channels: 3 },
    seed: job.inpaint.encodeSeed ?? job.seeds[0],
  });
  input.signal?.throwIfAborted();
  const headFeature = input.head ? inpaintHeadFeatureFor(input.head, encoded, input.kind).feature : null;
  const latent = await inpaintRun({
    base: input.patched,
    refiner: input.refiner,
    headFeature,
    latentFill: encoded.latentFill,
    latentMask: encoded.latentMask,
    latentShape: encoded.latentShape,
    positive: input.positive,
    negative: input.negative,
    settings: {
      steps: job.steps,
      sampler: job.sampler,
      scheduler: job.scheduler,
      cfg: job.cfg,
      sharpness: job.sharpness,
      adaptiveCfg: job.adaptiveCfg,
      adm: job.adm,
      denoise,
      seed: input.seed,
      switchStep: input.switchStep,
      swapMethod: input.swapMethod,
      freeu: job.freeu,
      disableInitialLatent: job.inpaint.disableInitialLatent,
    },
    onStep: input.onStep,
    signal: input.signal,
    imagePrompts: input.imagePrompts,
    controls: input.controls,
  });
  const rgb = await decodeLatent(input.vae, latent, input.kind, encoded.latentShape);
  const generated: U8Image = { data: rgb.rgb, width: rgb.width, height: rgb.height, channels: 3 };
  const original: U8Image = { ...prepared.original };
  const soft: U8Image = { data: prepared.softMask, width: original.width, height: original.height, channels: 1 };
  return inpaintPostProcess(generated, original, prepared.area, soft);
}
