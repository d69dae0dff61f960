// GenerationJob → one engine job per image, following Fooocus' `process_prompt`
// (F modules/async_worker.py; pipeline.md §1.1–1.3, §2) so the same request encodes the same
// CLIP workloads with the same models:
//   1. prompt and negative split into lines (`safe_str`, empty lines dropped); line 1 is the
//      prompt, lines 2..n extra workloads;
//   2. `<lora:name:w>` tags are taken out of line 1 and matched against the LoRA files by stem
//      (as in Fooocus, only line 1 is parsed; tags on later lines stay text), added after the
//      request's `loras`, deduplicated, capped at 5; the performance mode's LoRA (Extreme Speed,
//      Lightning, Hyper-SD) comes after them;
//   3. per image i, with `rng = random.Random(seed_i)`: wildcards (prompt, negative, extra
//      lines, from the wildcards folder), then arrays (prompt only), then styles with "Random
//      Style" drawn from the same rng (engine/text/resolveImagePrompts.ts, core applyStyles);
//   4. "Fooocus V2": the engine expands the image's prompt line (after wildcards and arrays)
//      with the image's seed and appends it as the last positive workload, outside the pooled
//      top-k (the plan passes `expansionSource` and the expansion folder);
//   5. refiner (`refiner_model_name`, switch step, swap method), `vae_name`, FreeU, ADM
//      scalers, clip skip and `black_out_nsfw` go to the engine job as they are; the
//      performance mode's forced values were set by core (normaliseRequest);
//   6. Vary (varyGoal.ts; F modules/async_worker.py apply_vary): the input image is read from
//      the BlobStore (readInputImage.ts, HWC3), resized to its shape ceil clamped to
//      1024–2048 (PIL Lanczos) and cropped to multiples of 8 as the VAE does
//      (engine/image/varyInputImage.ts); its size becomes the generation size (Fooocus:
//      latent × 8, whatever the aspect ratio said), with the text-to-image steps and refiner
//      switch and denoise 0.5 / 0.85 / overwrite_vary_strength. Fooocus encodes once per task,
//      so every image's engine job carries the same image and encodes it with the task's
//      first seed (`init.encodeSeed`): the images differ by their own noise only;
//   7. Upscale (upscaleGoal.ts; F apply_upscale): the plan reads the input image, finds the
//      upscaler file and decides the resize and whether the result is returned directly
//      (`plan.upscale`); the ESRGAN itself runs in the attempt (taskAttempt.ts), abortable,
//      which then either saves that image as the task's one result or fills every planned
//      job's init image and size from it (`applyUpscaledImage`). Fast skips prompt
//      processing as Fooocus does: its plan has no images and needs no checkpoint.
//   8. Inpaint/outpaint (inpaintGoal.ts; F apply_image_input / apply_inpaint): the plan reads
//      the input image (HWC3) and the mask upload (raw channels: its first channel is Fooocus'
//      drawn mask, and the advanced-masking merge averages all of them), finds the head, patch
//      and upscaler files (model_missing naming them), prepends the
//      additional prompt and sets the synthetic refiner's switch; the mask work, outpaint
//      padding, crop, ESRGAN and fill run once in the engine thread from the attempt
//      (`plan.inpaint`, Engine.prepareInpaint), which then fills every planned job's
//      `inpaint` and size (`applyPreparedInpaint`). When the prepared mask is empty and no side
//      is outpainted, Fooocus runs text-to-image: the attempt plans again with `inpaintSkipped`.
//   9. Image prompts (imagePromptGoal.ts; F apply_control_nets): the plan finds the model files
//      of the types used (model_missing naming them) and reads every slot's image (HWC3); every
//      image's engine job carries the same slots, which the engine preprocesses (resize,
//      PyraCanny, CPDS, CLIP vision) in its thread at the job's final size — after Vary, Upscale
//      or the inpaint crop set it — once per task (it keeps the last job's results). They mix
//      with Vary/Upscale/inpaint exactly when Fooocus' tab and mixing-flag rules say so.
// One engine job per image (one seed each), not one job with all seeds: FooocusAPI's stop
// keeps the images finished before it and skip drops only the current one, and the engine
// rejects a whole call when it is aborted; per-image calls keep every finished image and let
// each be uploaded as soon as it exists.
//
// Decisions recorded here (the issue "Engine: Fooocus's text-to-image features"):
// - Every model file the request needs is checked BEFORE anything runs, and a missing one
//   fails the task (model_missing) with a message naming the file and the folder to put it in:
//   a requested LoRA (Fooocus would silently skip it — a different picture than asked for),
//   a prompt tag that matches no LoRA file, the performance LoRA, the refiner, the VAE, the
//   Fooocus V2 expansion folder (selected by default in FooocusAPI — never a silent no-op),
//   the NSFW classifier. Messages name folders relative to the models directory, never
//   server paths.
// - A LoRA whose file exists but matches nothing of the model is not an error (Fooocus goes
//   on): the engine reports it and the worker logs it and tells the client (taskAttempt.ts).
// - LoRA weights are −2..2 (Fooocus' slider); the request schema enforces it for `loras`, and
//   a prompt tag outside the range fails the task with invalid_input.
// - A refiner switch step beyond the steps (core computes it from the performance's steps even
//   when overwrite_step lowered them, as Fooocus does) is clamped to the steps: the base runs
//   every step and the refiner none, which is what Fooocus does then.
import { existsSync } from 'node:fs';
import { realpath } from 'node:fs/promises';
import { join } from 'node:path';
import { DEFAULT_VAE } from '../core/request/fooocusConstants.ts';
import type { GenerationJob } from '../core/request/generationJob.ts';
import { parseLoraReferences, splitPromptLines } from '../core/request/promptText.ts';
import { applyStyles } from '../core/styles/applyStyles.ts';
import type { StyleCatalog } from '../core/styles/styleCatalog.ts';
import type { LoraRef, ModelFileRef } from '../engine/image/metadata/generationMetadata.ts';
import { SafetyChecker, SAFETY_CHECKER_FILE, SAFETY_CHECKER_FOLDER } from '../engine/image/safetyChecker.ts';
import type { ImagePromptTask, ImagePromptTasks, InitImage, InpaintPrepareRequest, PreparedInpaint, TextToImageJob } from '../engine/job.ts';
import { resolveImagePrompts } from '../engine/text/resolveImagePrompts.ts';
import { checkExpansionFolder, ExpansionFolderError } from '../engine/text/promptExpansion.ts';
import { loadWildcardDirectory } from '../engine/text/wildcardDirectory.ts';
import type { WildcardLoader } from '../engine/text/wildcards.ts';
import { listModelFiles, ModelFileNotFoundError, resolveModelFile, type ModelKind } from '../infra/models/modelDirectory.ts';
import { ModelStore } from '../infra/models/modelStore.ts';
import { PythonRandom } from '../shared/pythonRandom.ts';
import { plannedMetadata, type PlannedMetadata } from './imageMetadata.ts';
import { TaskInputError } from './taskFailure.ts';
import { assertTextToImageOnly } from './unsupportedFeatures.ts';
import type { BlobStore } from '../core/ports.ts';
import { cropToVaeMultiple, varyInputImage } from '../engine/image/varyInputImage.ts';
import { readInputImage, readRawInputImage } from './readInputImage.ts';
import { varyGoal } from './varyGoal.ts';
import type { U8Image } from '../engine/image/resampleLanczos.ts';
import { isDirectReturn, upscaleGoal, upscalerModelPath, upscaleSize, type UpscaleGoal, type UpscaleSize } from './upscaleGoal.ts';
import { inpaintGoal, inpaintModelPaths, inpaintPrompt, overwriteSwitchOf, SYNTHETIC_REFINER_SWITCH, syntheticSwitchStep, type InpaintGoal } from './inpaintGoal.ts';
import { imagePromptGoal, imagePromptModelPaths } from './imagePromptGoal.ts';

/** Fooocus' expansion folder under the models directory. */
export const EXPANSION_FOLDER = 'prompt_expansion/fooocus_expansion';
/** Fooocus `default_max_lora_number`. */
const MAX_LORAS = 5;
/** Fooocus' LoRA weight slider range. */
const LORA_WEIGHT_MIN = -2;
const LORA_WEIGHT_MAX = 2;
/** F modules/util.py LORAS_PROMPT_PATTERN (as core/request/promptText.ts). */
const LORA_TAG = /<lora:([^:]+):([+-]?(?:\d+(?:\.\d*)?|\.\d+))>/g;

/** Where Fooocus downloads each performance LoRA from (F modules/config.py downloading_sdxl_*_lora). */
const PERFORMANCE_LORA_SOURCES: Record<string, string> = {
  'sdxl_lcm_lora.safetensors': 'https://huggingface.co/lllyasviel/misc/resolve/main/sdxl_lcm_lora.safetensors',
  'sdxl_lightning_4step_lora.safetensors': 'https://huggingface.co/mashb1t/misc/resolve/main/sdxl_lightning_4step_lora.safetensors',
  'sdxl_hyper_sd_4step_lora.safetensors': 'https://huggingface.co/mashb1t/misc/resolve/main/sdxl_hyper_sd_4step_lora.safetensors',
};

export interface PlannedImage {
  index: number;
  seed: bigint;
  /** The engine job for this image alone (seeds: [seed]). */
  job: TextToImageJob;
  /** Styles as applied ("Random Style" resolved). */
  styles: string[];
  /** The image's metadata record (completed with the engine's result); null when save_metadata_to_images is off. */
  metadata: PlannedMetadata | null;
}

/** Fooocus Upscale's first stage, run by the attempt before any image (upscaleGoal.ts). */
export interface PlannedUpscale {
  goal: UpscaleGoal;
  /** Real path of the upscaler model. */
  modelPath: string;
  /** The input image, HWC RGB. */
  image: U8Image;
  size: UpscaleSize;
  /** The upscaled image is the task's one result (Fast, or shape ceil > 2800): no diffusion. */
  directReturn: boolean;
  /** black_out_nsfw on the direct result (Fooocus censors it too). */
  blackOutNsfw?: { modelPath: string };
  /**
   * The direct result's seed: the first image's, or '' for Fast, where Fooocus plans no
   * image task (FooocusAPI reports -1).
   */
  seed: string;
}

/** Fooocus inpaint's image stage, run by the attempt before any image (inpaintGoal.ts). */
export interface PlannedInpaint {
  goal: InpaintGoal;
  /** What Engine.prepareInpaint gets. */
  request: InpaintPrepareRequest;
  /** Head and patch (real paths), null for inpaint engine None. */
  headPath: string | null;
  patchPath: string | null;
  /** Where the synthetic refiner takes over (used when there is no refiner and a patch). */
  syntheticSwitchStep: number;
  /**
   * How it takes over: the request's refiner_swap_method; 'vae' (Fooocus' SD 1.5 interposer,
   * which needs a real SD 1.5 refiner) runs as 'joint'.
   */
  syntheticSwapMethod: 'joint' | 'separate';
}

export interface TextToImagePlan {
  /** The base checkpoint; null when no diffusion can run (Upscale Fast). */
  checkpoint: string | null;
  /**
   * One per image; none for Upscale Fast. With a non-direct `upscale`, their size and init
   * image are set by applyUpscaledImage once the upscaler ran.
   */
  images: PlannedImage[];
  /** Upscale's first stage, when the request upscales. */
  upscale: PlannedUpscale | null;
  /** Inpaint's image stage, when the request inpaints; the images' `inpaint` is set by applyPreparedInpaint. */
  inpaint: PlannedInpaint | null;
  /** What the request asked for that this run does differently (for the log). */
  notes: string[];
  /** Absolute model paths → the names the request used (to keep server paths out of task errors). */
  pathNames: Map<string, string>;
}

export interface PlanOptions {
  modelsDir: string;
  /** Default: the bundled style catalog. */
  catalog?: StyleCatalog;
  /** Folder of wildcard lists (Fooocus `wildcards/`); default none (placeholders become plain words). */
  wildcardsDir?: string;
  /** Hashes model files for the metadata. Default: a ModelStore over modelsDir. */
  modelStore?: ModelStore;
  /** Written into image metadata. Default 'fooocus-cloud'. */
  version?: string;
  /** Where input images are stored (`inputs/<sha256>.<ext>`); needed by a Vary, Upscale or inpaint request. */
  blobs?: BlobStore;
  /** The inpaint's prepared mask was empty with no outpaint: plan text-to-image, as Fooocus runs it. Default false. */
  inpaintSkipped?: boolean;
}

interface ResolvedLora {
  name: string;
  weight: number;
  path: string;
}

export async function planTextToImage(job: GenerationJob, options: PlanOptions): Promise<TextToImagePlan> {
  assertTextToImageOnly(job);
  const notes: string[] = [];
  const pathNames = new Map<string, string>();
  const { modelsDir } = options;
  const store = options.modelStore ?? new ModelStore({ modelsDir });
  const upscale = upscaleGoal(job);
  if (upscale?.fast) {
    // Fooocus skips prompt processing for Fast: no model but the upscaler (and the classifier).
    const blackOutNsfw = nsfwClassifier(job, modelsDir, pathNames);
    const planned = await planUpscale(upscale, job, options, pathNames, blackOutNsfw);
    return { checkpoint: null, images: [], upscale: planned, inpaint: null, notes, pathNames };
  }
  const inpaint = options.inpaintSkipped ? null : inpaintGoal(job);
  // Fooocus puts the additional prompt in front before prompt processing (it is logged so too),
  // and with its synthetic refiner sets refiner_switch to 0.8 (the metadata logs that).
  if (inpaint) {
    const synthetic = inpaint.engine !== 'None' && !job.refinerModel;
    job = { ...job, prompt: inpaintPrompt(job.prompt, inpaint.additionalPrompt), ...(synthetic ? { refinerSwitch: SYNTHETIC_REFINER_SWITCH } : {}) };
  }
  // Upscale diffuses with the performance's UOV steps and the switch computed from them.
  const steps = upscale ? upscale.steps : job.steps;
  const refinerSwitchStep = upscale ? upscale.refinerSwitchStep : job.refinerSwitchStep;

  const inFolder = await resolveModelFile(modelsDir, 'checkpoints', job.baseModel);
  // The engine gets the real file: model folders are often links into a shared store, and the
  // engine's graph cache hard-links the weight file it is given — a link to a symlink is a
  // symlink, which onnxruntime refuses as external data outside the model directory.
  const checkpoint = await realpath(inFolder);
  pathNames.set(checkpoint, job.baseModel).set(inFolder, job.baseModel);

  // --- LoRAs: request slots, prompt tags, the performance LoRA ------------------------------
  const positiveLines = splitPromptLines(job.prompt);
  const negativeLines = splitPromptLines(job.negativePrompt);
  const loraFiles = await listModelFiles(modelsDir, 'loras');
  checkPromptLoraTags(positiveLines.main, loraFiles);
  const { loras: requested, prompt } = parseLoraReferences(
    positiveLines.main,
    job.loras.map((l) => [l.name, l.weight] as const),
    { loraFilenames: loraFiles, limit: MAX_LORAS },
  );
  const loras: ResolvedLora[] = [];
  for (const [name, weight] of requested) {
    if (name === 'None') continue;
    const path = await modelFile(modelsDir, 'loras', name, () => `LoRA file '${name}' not found in the loras folder (put it at loras/${name} in the models directory)`);
    loras.push({ name, weight, path });
  }
  if (job.performanceLora) {
    const { name, weight } = job.performanceLora;
    const source = PERFORMANCE_LORA_SOURCES[name];
    const path = await modelFile(
      modelsDir,
      'loras',
      name,
      () =>
        `performance '${job.performance}' needs the LoRA file '${name}' in the loras folder (put it at loras/${name} in the models directory` +
        `${source ? `; Fooocus downloads it from ${source}` : ''}), or choose performance Speed or Quality`,
    );
    loras.push({ name, weight, path });
  }
  for (const l of loras) pathNames.set(l.path, l.name);

  // --- refiner, VAE ------------------------------------------------------------------------------
  let refiner: TextToImageJob['refiner'];
  if (job.refinerModel) {
    const name = job.refinerModel;
    const path = await modelFile(modelsDir, 'checkpoints', name, () => `refiner model '${name}' not found in the checkpoints folder (refiner_model_name; put it at checkpoints/${name} in the models directory, or send "None")`);
    let switchStep = refinerSwitchStep;
    if (switchStep > steps) {
      notes.push(`refiner switch step ${switchStep} is past the last step (${steps}): the refiner does not run (as in Fooocus)`);
      switchStep = steps;
    }
    refiner = { checkpoint: path, switchStep, swapMethod: job.refinerSwapMethod };
  }
  let vae: string | undefined;
  if (job.vae !== DEFAULT_VAE) {
    const name = job.vae;
    vae = await modelFile(modelsDir, 'vae', name, () => `VAE '${name}' not found in the vae folder (vae_name; put it at vae/${name} in the models directory, or send "${DEFAULT_VAE}")`);
  }

  // --- Fooocus V2 expansion, NSFW classifier -------------------------------------------------
  const useExpansion = job.useExpansion && prompt !== '';
  let expansionFolder: string | undefined;
  if (useExpansion) {
    expansionFolder = join(modelsDir, ...EXPANSION_FOLDER.split('/'));
    try {
      checkExpansionFolder(expansionFolder);
    } catch (err) {
      if (!(err instanceof ExpansionFolderError)) throw err;
      throw new TaskInputError(
        'model_missing',
        `"Fooocus V2" prompt expansion needs its GPT-2 model in the ${EXPANSION_FOLDER}/ folder of the models directory, which lacks ${err.missing.join(', ')}: ` +
          `copy Fooocus's models/${EXPANSION_FOLDER} folder there (config.json, pytorch_model.bin, vocab.json, merges.txt, positive.txt), or remove "Fooocus V2" from style_selections`,
        { cause: err },
      );
    }
    pathNames.set(expansionFolder, EXPANSION_FOLDER);
  }
  const blackOutNsfw = nsfwClassifier(job, modelsDir, pathNames);
  const inpaintPlan = inpaint ? await planInpaint(inpaint, job, options, pathNames) : null;
  if (inpaintPlan && !refiner && inpaintPlan.patchPath && inpaintPlan.syntheticSwitchStep > steps) {
    notes.push(`synthetic refiner switch step ${inpaintPlan.syntheticSwitchStep} is past the last step (${steps}): it does not run (as in Fooocus)`);
  }

  // --- Vary: the input image as Fooocus sizes it; its size is the generation size ----------
  const vary = varyGoal(job);
  let width = job.width;
  let height = job.height;
  let init: Omit<InitImage, 'encodeSeed'> | undefined;
  if (vary) {
    if (!options.blobs) throw new Error('planTextToImage: a Vary request needs options.blobs to read its input image');
    const image = varyInputImage(await readInputImage(options.blobs, vary.image, vary.field));
    width = image.width;
    height = image.height;
    init = { rgb: image.data, width, height, denoise: vary.denoise };
  }
  // --- image prompts: slots read once; the engine preprocesses them at the final size --------
  const imagePromptTasks = await planImagePrompts(job, options, pathNames);

  // --- Upscale: the upscaler runs in the attempt; size and init come from its result ------
  const upscalePlan = upscale ? await planUpscale(upscale, job, options, pathNames, blackOutNsfw) : null;

  // --- metadata: model hashes (only when they are written) ----------------------------------
  let hashes: { base: ModelFileRef; refiner: ModelFileRef | null; loras: LoraRef[] } | null = null;
  if (job.output.saveMetadata) {
    hashes = {
      base: { name: job.baseModel, sha256: await store.sha256OfPath(checkpoint) },
      refiner: refiner && job.refinerModel ? { name: job.refinerModel, sha256: await store.sha256OfPath(refiner.checkpoint) } : null,
      loras: [],
    };
    for (const l of loras) hashes.loras.push({ name: l.name, weight: l.weight, sha256: await store.sha256OfPath(l.path) });
  }

  // --- per image -----------------------------------------------------------------------------
  const texts = [prompt, negativeLines.main, ...positiveLines.extra, ...negativeLines.extra];
  const wildcards: WildcardLoader =
    options.wildcardsDir && texts.some((t) => t.includes('__')) ? await loadWildcardDirectory(options.wildcardsDir) : () => null;
  const images: PlannedImage[] = [];
  for (let i = 0; i < job.imageNumber; i++) {
    const seed = BigInt(job.imageSeeds[i]);
    const rng = new PythonRandom(seed);
    const resolved = resolveImagePrompts(
      { prompt, negativePrompt: negativeLines.main, extraPositive: positiveLines.extra, extraNegative: negativeLines.extra },
      { rng, imageIndex: i, readInOrder: job.readWildcardsInOrder, load: wildcards },
    );
    const styled = applyStyles(
      {
        prompt: resolved.prompt,
        negativePrompt: resolved.negativePrompt,
        extraPositive: resolved.extraPositive,
        extraNegative: resolved.extraNegative,
        styles: job.styles,
      },
      { rng, catalog: options.catalog },
    );
    const expansionSource = useExpansion && resolved.prompt !== '' ? resolved.prompt : undefined;
    const engineJob: TextToImageJob = {
      checkpoint,
      positive: styled.positive,
      negative: styled.negative,
      positiveTopK: styled.positiveTopK,
      negativeTopK: styled.negativeTopK,
      width,
      height,
      steps,
      sampler: job.sampler,
      scheduler: job.scheduler,
      cfg: job.cfg,
      sharpness: job.sharpness,
      adaptiveCfg: job.adaptiveCfg,
      adm: { ...job.admScalers },
      clipSkip: job.clipSkip,
      seeds: [seed],
      format: job.output.format,
      previews: !job.output.disablePreview,
    };
    if (loras.length > 0) engineJob.loras = loras.map((l) => ({ path: l.path, weight: l.weight }));
    if (refiner) engineJob.refiner = { ...refiner };
    if (vae) engineJob.vae = vae;
    if (job.freeu.enabled) engineJob.freeu = { b1: job.freeu.b1, b2: job.freeu.b2, s1: job.freeu.s1, s2: job.freeu.s2 };
    if (blackOutNsfw) engineJob.blackOutNsfw = { ...blackOutNsfw };
    // The same slots for every image (the engine keeps the preprocessing between them).
    if (imagePromptTasks) engineJob.imagePromptTasks = imagePromptTasks;
    // One encode seed for the task (Fooocus encodes once per task): the first image's seed.
    if (init) engineJob.init = { ...init, encodeSeed: BigInt(job.imageSeeds[0]) };
    if (expansionSource !== undefined) {
      engineJob.expansionFolder = expansionFolder;
      engineJob.perImagePrompts = [
        { positive: styled.positive, negative: styled.negative, positiveTopK: styled.positiveTopK, negativeTopK: styled.negativeTopK, expansionSource },
      ];
    }
    images.push({
      index: i,
      seed,
      styles: styled.styles,
      job: engineJob,
      metadata: hashes
        ? plannedMetadata({
            job,
            seed,
            styles: styled.styles,
            logPositive: styled.logPositivePrompt,
            logNegative: styled.logNegativePrompt,
            fullPositive: styled.positive,
            fullNegative: styled.negative,
            baseModel: hashes.base,
            refinerModel: hashes.refiner,
            loras: hashes.loras,
            version: options.version ?? 'fooocus-cloud',
            size: { width, height },
            steps,
          })
        : null,
    });
  }
  return { checkpoint, images, upscale: upscalePlan, inpaint: inpaintPlan, notes, pathNames };
}

/**
 * Inpaint, once the engine prepared the crop: every image samples that crop (the job's size
 * is the crop's, Fooocus' generation size) and returns the canvas; the metadata's resolution
 * is the crop's, as Fooocus logs its width and height.
 */
export function applyPreparedInpaint(plan: TextToImagePlan, prepared: PreparedInpaint): void {
  const planned = plan.inpaint;
  if (!planned) throw new Error('applyPreparedInpaint: the plan has no inpaint');
  const encodeSeed = plan.images[0]?.seed;
  for (const image of plan.images) {
    image.job.width = prepared.image.width;
    image.job.height = prepared.image.height;
    image.job.inpaint = {
      prepared,
      headPath: planned.headPath,
      patchPath: planned.patchPath,
      denoise: planned.goal.strength,
      disableInitialLatent: planned.goal.disableInitialLatent,
      syntheticSwitchStep: planned.syntheticSwitchStep,
      syntheticSwapMethod: planned.syntheticSwapMethod,
      ...(encodeSeed !== undefined ? { encodeSeed } : {}),
    };
    if (image.metadata) {
      image.metadata.width = prepared.image.width;
      image.metadata.height = prepared.image.height;
    }
  }
}

/** Reads the image and the mask upload, finds head, patch and upscaler (model_missing naming them). */
async function planInpaint(goal: InpaintGoal, job: GenerationJob, options: PlanOptions, pathNames: Map<string, string>): Promise<PlannedInpaint> {
  const files = await inpaintModelPaths(options.modelsDir, goal.engine);
  if (files) pathNames.set(files.headPath, files.headName).set(files.patchPath, files.patchName);
  const upscaler = await upscalerModelPath(options.modelsDir);
  pathNames.set(upscaler.path, upscaler.name);
  if (!options.blobs) throw new Error('planTextToImage: an inpaint request needs options.blobs to read its images');
  const image = await readInputImage(options.blobs, goal.image, 'inpaint_input_image');
  const upload = goal.maskUpload ? await readRawInputImage(options.blobs, goal.maskUpload, 'inpaint_mask_image_upload') : undefined;
  if (upload && (upload.width !== image.width || upload.height !== image.height)) {
    // FooocusAPI hands the upload to Fooocus as the drawn mask too, and Fooocus' max of the two
    // masks fails on different sizes.
    throw new TaskInputError(
      'invalid_input',
      `inpaint_mask_image_upload is ${upload.width}×${upload.height} but inpaint_input_image is ${image.width}×${image.height}: the mask must have the image's size`,
    );
  }
  const request: InpaintPrepareRequest = {
    image: { data: image.data, width: image.width, height: image.height, channels: 3 },
    ...(upload
      ? { mask: firstChannel(upload), upload: { data: upload.data, width: upload.width, height: upload.height, channels: upload.channels } }
      : {}),
    erodeOrDilate: goal.erodeOrDilate,
    invert: goal.invert,
    outpaint: { sides: [...goal.outpaint.sides], distances: { ...goal.outpaint.distances } },
    respectiveField: goal.respectiveField,
    denoise: goal.strength,
    upscalerPath: upscaler.path,
  };
  return {
    goal,
    request,
    headPath: files?.headPath ?? null,
    patchPath: files?.patchPath ?? null,
    syntheticSwitchStep: syntheticSwitchStep(job.performance, overwriteSwitchOf(job)),
    syntheticSwapMethod: job.refinerSwapMethod === 'separate' ? 'separate' : 'joint',
  };
}

/**
 * A non-direct Upscale, once the upscaler ran: every image starts from `upscaled` cropped to
 * multiples of 8 (the VAE's crop), at that size, encoded with the task's first seed as Vary
 * does; the metadata's resolution follows.
 */
export function applyUpscaledImage(plan: TextToImagePlan, upscaled: { data: Uint8Array; width: number; height: number }): void {
  const goal = plan.upscale?.goal;
  if (!goal) throw new Error('applyUpscaledImage: the plan has no upscale');
  const image = cropToVaeMultiple({ ...upscaled, channels: 3 });
  const encodeSeed = plan.images[0]?.seed;
  for (const planned of plan.images) {
    planned.job.width = image.width;
    planned.job.height = image.height;
    planned.job.init = { rgb: image.data, width: image.width, height: image.height, denoise: goal.denoise, encodeSeed };
    if (planned.metadata) {
      planned.metadata.width = image.width;
      planned.metadata.height = image.height;
    }
  }
}

/** Reads the input image and finds the upscaler (model_missing naming it); the size rule decides direct return. */
async function planUpscale(
  goal: UpscaleGoal,
  job: GenerationJob,
  options: PlanOptions,
  pathNames: Map<string, string>,
  blackOutNsfw: TextToImageJob['blackOutNsfw'],
): Promise<PlannedUpscale> {
  const model = await upscalerModelPath(options.modelsDir);
  pathNames.set(model.path, model.name);
  if (!options.blobs) throw new Error('planTextToImage: an Upscale request needs options.blobs to read its input image');
  const image = await readInputImage(options.blobs, goal.image, goal.field);
  const size = upscaleSize(image.height, image.width, goal.factor);
  const directReturn = isDirectReturn(goal, size);
  return {
    goal,
    modelPath: model.path,
    image,
    size,
    directReturn,
    ...(directReturn && blackOutNsfw ? { blackOutNsfw: { ...blackOutNsfw } } : {}),
    seed: goal.fast ? '' : job.imageSeeds[0],
  };
}

/** Image prompts (imagePromptGoal.ts): model files (model_missing naming them) and the slot images (HWC3). */
async function planImagePrompts(job: GenerationJob, options: PlanOptions, pathNames: Map<string, string>): Promise<ImagePromptTasks | undefined> {
  const goal = imagePromptGoal(job);
  if (!goal) return undefined;
  const files = await imagePromptModelPaths(options.modelsDir, goal);
  for (const [path, name] of files.names) pathNames.set(path, name);
  if (!options.blobs) throw new Error('planTextToImage: an image prompt request needs options.blobs to read its images');
  const slots: ImagePromptTask[] = [];
  for (const slot of goal.slots) {
    // FaceSwap was refused up front (unsupportedFeatures.ts).
    if (slot.type === 'FaceSwap') throw new Error('planTextToImage: FaceSwap image prompts are refused before planning');
    const image = await readInputImage(options.blobs, slot.image, `controlnet_image.${slot.index}.cn_img`);
    slots.push({ type: slot.type, image: { data: image.data, width: image.width, height: image.height, channels: image.channels }, stop: slot.stop, weight: slot.weight });
  }
  return {
    slots,
    ...(files.ipAdapter ? { ipAdapter: files.ipAdapter } : {}),
    ...(files.pyraCanny ? { pyraCanny: files.pyraCanny } : {}),
    ...(files.cpds ? { cpds: files.cpds } : {}),
    softness: goal.softness,
    cannyLow: goal.cannyLow,
    cannyHigh: goal.cannyHigh,
    skipPreprocessor: goal.skipPreprocessor,
  };
}

/** Fooocus' drawn mask `inpaint_input_image['mask'][:, :, 0]`: the upload's first channel, as sent. */
function firstChannel(image: U8Image): Uint8Array {
  const out = new Uint8Array(image.width * image.height);
  for (let p = 0; p < out.length; p++) out[p] = image.data[p * image.channels];
  return out;
}

/** black_out_nsfw's classifier; its absence fails the task (model_missing) rather than skipping the check. */
function nsfwClassifier(job: GenerationJob, modelsDir: string, pathNames: Map<string, string>): TextToImageJob['blackOutNsfw'] {
  if (!job.output.blackOutNsfw) return undefined;
  const modelPath = SafetyChecker.modelPath(modelsDir);
  const relativeName = `${SAFETY_CHECKER_FOLDER}/${SAFETY_CHECKER_FILE}`;
  if (!existsSync(modelPath)) {
    throw new TaskInputError(
      'model_missing',
      `black_out_nsfw needs an ONNX NSFW classifier at ${relativeName} in the models directory (none found), e.g. the safety_checker/model.onnx of an ONNX Stable Diffusion 1.x export; or send black_out_nsfw=false`,
    );
  }
  pathNames.set(modelPath, relativeName);
  return { modelPath };
}

/**
 * A prompt tag must name a LoRA file (by stem, as Fooocus matches it) and carry a weight in
 * −2..2. Fooocus drops an unmatched tag silently; here it fails the task, like a missing file.
 */
function checkPromptLoraTags(line: string, loraFiles: readonly string[]): void {
  const stems = new Set(loraFiles.map(stemOf));
  // Per comma-separated token, as Fooocus parses them.
  for (const m of line.split(',').flatMap((token) => [...token.matchAll(LORA_TAG)])) {
    const [tag, name, weightText] = m;
    if (!stems.has(name)) {
      throw new TaskInputError('model_missing', `LoRA '${name}' named in the prompt (${tag}) matches no file in the loras folder (put ${name}.safetensors in the models directory's loras folder)`);
    }
    const weight = Number.parseFloat(weightText);
    if (!(weight >= LORA_WEIGHT_MIN && weight <= LORA_WEIGHT_MAX)) {
      throw new TaskInputError('invalid_input', `LoRA weight ${weightText} in the prompt (${tag}) is outside ${LORA_WEIGHT_MIN}..${LORA_WEIGHT_MAX}`);
    }
  }
}

/** The real path of a model file; a missing file fails the task (model_missing) with `message()`. */
async function modelFile(modelsDir: string, kind: ModelKind, name: string, message: () => string): Promise<string> {
  try {
    return await realpath(await resolveModelFile(modelsDir, kind, name));
  } catch (err) {
    if (err instanceof ModelFileNotFoundError) throw new TaskInputError('model_missing', message(), { cause: err });
    throw err;
  }
}

function stemOf(name: string): string {
  const base = name.split(/[\\/]/).pop() ?? name;
  const dot = base.lastIndexOf('.');
  return dot > 0 ? base.slice(0, dot) : base;
}
