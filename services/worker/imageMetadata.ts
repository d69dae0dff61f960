// Generation parameters written into each output image when `save_metadata_to_images` is on
// (api-contract §6.1), in the request's `metadata_scheme` ('fooocus' JSON or 'a1111' text),
// placed where Fooocus places them (PNG text chunks; EXIF + XMP in JPEG/WebP). The texts and
// the placement are the engine's (engine/image/metadata/); this module fills the record with
// what was REALLY used for one image:
//   - at planning time: the forced performance values (steps, sampler, scheduler, cfg, …), the
//     image's seed, its styles after "Random Style", its prompt lines after wildcards/arrays,
//     the models with their sha256 (ModelStore, cached by path/size/mtime), the LoRAs merged
//     (request, prompt tags, then the performance LoRA), refiner, VAE, FreeU;
//   - after the engine ran: the Fooocus V2 expansion text and the workloads actually encoded
//     (GeneratedImage.expansion / .positive).
// Vary: Fooocus' log/metadata has no field for the uov method or the vary strength
// (F modules/async_worker.py save_and_log, modules/meta_parser.py), so none is written; what
// changes is the Resolution, which is the input image's size after the shape-ceil resize.
// Upscale (with diffusion): likewise no uov field; Steps are the UOV steps and the Resolution
// the upscaled size. An Upscale returned directly (Fast, or too large) carries no metadata:
// Fooocus logs it with the label 'Upscale (Fast)' only and writes nothing into the file.
// The engine encodes WITHOUT metadata; embedOutputMetadata adds it to the encoded bytes.
import type { GenerationJob } from '../core/request/generationJob.ts';
import { applyMetadataSetting } from '../engine/image/metadata/embedImageMetadata.ts';
import { buildImageMetadata, type GenerationParameters, type LoraRef, type ModelFileRef } from '../engine/image/metadata/generationMetadata.ts';
import type { GeneratedImage } from '../engine/job.ts';

/** The per-image record before the engine ran (expansion and encoded workloads still open). */
export type PlannedMetadata = Omit<GenerationParameters, 'promptExpansion' | 'usedExpansion' | 'fullPrompt' | 'fullNegativePrompt'> & {
  /** The workloads the plan sends (the engine's own list wins when it reports one). */
  fullPrompt: readonly string[];
  fullNegativePrompt: readonly string[];
};

export interface PlannedMetadataInput {
  job: GenerationJob;
  seed: bigint;
  styles: readonly string[];
  logPositive: string;
  logNegative: string;
  fullPositive: readonly string[];
  fullNegative: readonly string[];
  baseModel: ModelFileRef;
  refinerModel: ModelFileRef | null;
  loras: readonly LoraRef[];
  version: string;
  /** The generation size when it is not the request's (Vary: the input image's); default job.width × job.height. */
  size?: { width: number; height: number };
  /** The sampling steps when they are not job.steps (Upscale: the UOV steps, as Fooocus logs them); default job.steps. */
  steps?: number;
}

export function plannedMetadata(input: PlannedMetadataInput): PlannedMetadata {
  const { job } = input;
  const overwriteSwitch = Number(job.reqParams.overwrite_switch ?? 0);
  return {
    prompt: input.logPositive,
    negativePrompt: input.logNegative,
    styles: [...input.styles],
    performance: job.performance,
    steps: input.steps ?? job.steps,
    width: input.size?.width ?? job.width,
    height: input.size?.height ?? job.height,
    guidanceScale: job.cfg,
    sharpness: job.sharpness,
    adm: { ...job.admScalers },
    baseModel: input.baseModel,
    refinerModel: input.refinerModel,
    refinerSwitch: job.refinerSwitch,
    overwriteSwitch: Number.isFinite(overwriteSwitch) ? overwriteSwitch : 0,
    refinerSwapMethod: job.refinerSwapMethod,
    adaptiveCfg: job.adaptiveCfg,
    clipSkip: job.clipSkip,
    sampler: job.sampler,
    scheduler: job.scheduler,
    vae: job.vae,
    seed: input.seed,
    freeu: job.freeu.enabled ? { b1: job.freeu.b1, b2: job.freeu.b2, s1: job.freeu.s1, s2: job.freeu.s2 } : null,
    loras: input.loras,
    fullPrompt: input.fullPositive,
    fullNegativePrompt: input.fullNegative,
    version: input.version,
  };
}

/** The record for one finished image: the plan's, plus what the engine reports it did. */
export function imageParameters(planned: PlannedMetadata, result: Pick<GeneratedImage, 'expansion' | 'positive' | 'negative'>): GenerationParameters {
  return {
    ...planned,
    promptExpansion: result.expansion ?? '',
    usedExpansion: result.expansion !== undefined,
    fullPrompt: result.positive ?? planned.fullPrompt,
    fullNegativePrompt: result.negative ?? planned.fullNegativePrompt,
  };
}

/**
 * The output bytes: `result.data` with the metadata embedded when `save_metadata_to_images`
 * is on (unchanged otherwise). `onOmitted` hears about JPEG blocks that did not fit.
 */
export function embedOutputMetadata(
  job: GenerationJob,
  planned: PlannedMetadata | null,
  result: GeneratedImage,
  onOmitted?: (block: string, reason: string) => void,
): Uint8Array {
  if (!planned) return result.data;
  return applyMetadataSetting(result.data, result.format, job.output.saveMetadata, () => buildImageMetadata(imageParameters(planned, result), job.output.metadataScheme), {
    onOmitted,
  });
}
