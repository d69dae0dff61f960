/**
 * The engine: checkpoints in, images out. Keeps the most recently used
 * checkpoints loaded (sessions reused across jobs with the same checkpoint;
 * at least two while a job uses a refiner, so base and refiner stay loaded
 * together) and the last separate VAE, and runs one job at a time; progress
 * per step with an optional preview, cancellation through an AbortSignal
 * between steps.
 *
 * Per image, in Fooocus' order (F modules/async_worker.py process_prompt /
 * process_task): the Fooocus V2 expansion of the image's prompt (its seed)
 * appended as the last positive workload after the pooled top-k was taken;
 * CLIP encoding; sampling (LoRAs merged into base and refiner, FreeU, the
 * refiner swap; image-to-image from a VAE-encoded init image, encoded once per
 * job: pipeline/imageToImage.ts); VAE decode; `black_out_nsfw` censoring; encoding. The
 * expansion model and the NSFW classifier stay loaded between jobs, like
 * checkpoints. Generation metadata is not written here: the caller knows the
 * request and embeds it in the returned bytes (image/metadata/).
 *
 * `upscale` runs Fooocus's upscaler (ESRGAN, upscale/loadedUpscaler.ts) outside
 * any job: the caller (Fooocus Upscale) feeds its result to a job's init image
 * or returns it as it is. The upscaler stays loaded, one at a time, like the
 * separate VAE.
 *
 * Inpaint (Fooocus inpaint/outpaint) is two calls: `prepareInpaint` once per
 * task (mask, outpaint, crop, ESRGAN, fill: inpaint/prepareInpaintCanvas.ts),
 * then `generate` with `job.inpaint` per image (pipeline/inpaintImage.ts): the
 * base with the inpaint patch and head, Fooocus' synthetic refiner (the base
 * without them) at the switch when the job has no refiner, and the result
 * pasted back into the canvas. The head stays loaded, one at a time.
 *
 * Image prompts (`job.imagePromptTasks`: IP-Adapter Plus, PyraCanny and CPDS
 * Control-LoRAs) are preprocessed here at the job's final size and patch the
 * base only, in text-to-image, image-to-image and inpaint alike
 * (pipeline/imagePromptPreparer.ts keeps the last job's results, so a task's
 * per-image jobs preprocess once).
 */
import { join } from 'node:path';
import type { EngineConfig } from './engineConfig.ts';
import { encodeRgb8 } from './image/encodeImage.ts';
import { latentPreviewJpeg } from './image/latentPreview.ts';
import { EngineAbortedError, EngineInputError } from './io/engineErrors.ts';
import type {
  GenerateOptions, GeneratedImage, InpaintJob, InpaintPrepareRequest, PreparedInpaint, TextToImageJob, UpscaledImage, UpscaleImageOptions, UpscaleResize,
} from './job.ts';
import { loadInpaintHead, type InpaintHead } from './inpaint/inpaintHead.ts';
import { prepareInpaintCanvas } from './inpaint/prepareInpaintCanvas.ts';
import { inpaintModels } from './pipeline/inpaint.ts';
import { generateInpaintImage } from './pipeline/inpaintImage.ts';
import { ImagePromptPreparer } from './pipeline/imagePromptPreparer.ts';
import { encodeWorkloads, type TextConditioning } from './pipeline/encodePrompt.ts';
import { decodeLatent, sampleTextToImage, type StepEvent } from './pipeline/textToImage.ts';
import { encodeInitImage, VAE_DOWNSCALE } from './pipeline/imageToImage.ts';
import { fooocusSamplingSigmas } from './diffusion/samplingSigmas.ts';
import { resolveSampler } from './diffusion/samplers/index.ts';
import { autoCandidates, providerChoice, type ProviderChoice } from './runtime/executionProvider.ts';
import { LoadedCheckpoint } from './runtime/loadedCheckpoint.ts';
import { LoadedVae } from './runtime/loadedVae.ts';
import { validateRefinerJob } from './pipeline/refiner.ts';
import type { LoraRequest } from './lora/mergeLoras.ts';
import { loadExpansion, type PromptExpansion } from './text/promptExpansion.ts';
import { SafetyChecker } from './image/safetyChecker.ts';
import { resampleLanczos, type U8Image } from './image/resampleLanczos.ts';
import { setImageShapeCeil } from './image/varyInputImage.ts';
import { LoadedUpscaler } from './upscale/loadedUpscaler.ts';
import type { RgbImage } from './upscale/tiledUpscale.ts';

export const MAX_SEED = (1n << 63n) - 1n;

export class Engine {
  private loaded = new Map<string, Promise<LoadedCheckpoint>>();
  /** The last separate VAE (job.vae) used, by path; one at a time. */
  private vae: { path: string; load: Promise<LoadedVae> } | null = null;
  /** The Fooocus V2 expansion model (GPT-2), by folder; one at a time. */
  private expansion: { folder: string; load: Promise<PromptExpansion> } | null = null;
  /** The black_out_nsfw classifier, by path; one at a time. */
  private safetyChecker: { path: string; load: Promise<SafetyChecker> } | null = null;
  /** The upscaler (ESRGAN) last used, by path; one at a time. */
  private upscaler: { path: string; load: Promise<LoadedUpscaler> } | null = null;
  /** The inpaint head last used, by path; one at a time. */
  private inpaintHead: { path: string; head: InpaintHead } | null = null;
  private provider: ProviderChoice | null = null;
  /** Image prompts: the IP-Adapter, Control-LoRAs and the last job's preprocessed slots. */
  private readonly imagePrompts: ImagePromptPreparer;

  constructor(readonly config: EngineConfig) {
    this.imagePrompts = new ImagePromptPreparer({
      cacheDir: config.cacheDir,
      session: () => this.sessionOptions(),
      compute: (base) => base.computeOf('unet'),
    });
  }

  /**
   * Loads (or finds) a checkpoint and opens its txt2img sessions. `keep`:
   * how many checkpoints stay loaded at least, whatever maxLoadedCheckpoints
   * says (2 while a refiner job needs its base too); default 1. `opts.warm`
   * false: open sessions on first use instead (a LoRA job never runs the base
   * UNet, so it must not hold a second full UNet beside its variant's).
   */
  async load(checkpoint: string, keep = 1, opts: { warm?: boolean } = {}): Promise<LoadedCheckpoint> {
    const hit = this.loaded.get(checkpoint);
    if (hit) {
      // Refresh LRU order.
      this.loaded.delete(checkpoint);
      this.loaded.set(checkpoint, hit);
      return hit;
    }
    const p = this.open(checkpoint, opts.warm ?? true);
    this.loaded.set(checkpoint, p);
    p.catch(() => this.loaded.delete(checkpoint));
    const max = Math.max(1, keep, this.config.maxLoadedCheckpoints ?? 1);
    while (this.loaded.size > max) {
      const [oldest, op] = this.loaded.entries().next().value as [string, Promise<LoadedCheckpoint>];
      this.loaded.delete(oldest);
      op.then((m) => m.close()).catch(() => undefined);
    }
    return p;
  }

  /**
   * `checkpoint` with `loras` merged (lora/, Fooocus strengths): its LoRA
   * variant (merged shard and graphs cached on disk, sessions kept for the
   * last `maxLoadedVariants` sets), or the checkpoint itself when the list
   * changes nothing. LoraError (a CheckpointError) for a missing file.
   */
  async loadWithLoras(checkpoint: string, loras: readonly LoraRequest[] | undefined, keep = 1): Promise<LoadedCheckpoint> {
    if (!loras || loras.length === 0) return this.load(checkpoint, keep);
    // The variant warms what it runs: its own patched graphs, the rest borrowed from the base.
    const model = await this.load(checkpoint, keep, { warm: false });
    const variant = await model.withLoras(loras);
    await variant.warm();
    return variant;
  }

  async generate(job: TextToImageJob, opts: GenerateOptions = {}): Promise<GeneratedImage[]> {
    validateJob(job);
    // Fooocus: "Refiner disabled because base model and refiner are same."
    const refinerJob = job.refiner && job.refiner.checkpoint !== job.checkpoint ? job.refiner : undefined;
    const keep = refinerJob ? 2 : 1;
    const inpaint = job.inpaint ? await this.inpaintModelsFor(job.checkpoint, job.loras, job.inpaint, keep) : null;
    const model = inpaint ? inpaint.patched : await this.loadWithLoras(job.checkpoint, job.loras, keep);
    if (model.isRefiner) {
      throw new EngineInputError(`${job.checkpoint} is an SDXL refiner; it cannot be used as the base model`);
    }
    // Fooocus gives the refiner the user's LoRAs too (default_pipeline.refresh_everything); an SDXL
    // LoRA matches little of a real refiner, so there it is usually skipped as a mismatch.
    const refiner = refinerJob ? await this.loadWithLoras(refinerJob.checkpoint, job.loras, keep) : undefined;
    const decoder = job.vae ? await this.loadVae(job.vae, job.checkpoint) : model;
    const warnings = [...loraWarnings(model, ''), ...(refiner ? loraWarnings(refiner, 'refiner: ') : [])];
    const count = job.seeds.length;
    const expands = Array.from({ length: count }, (_, i) => !!job.perImagePrompts?.[i]?.expansionSource);
    let expansion: PromptExpansion | undefined;
    if (expands.some(Boolean)) {
      if (!job.expansionFolder) throw new EngineInputError('Fooocus V2 prompt expansion was asked for without an expansion folder (job.expansionFolder)');
      expansion = await this.loadExpansion(job.expansionFolder);
    }
    const checker = job.blackOutNsfw ? await this.loadSafetyChecker(job.blackOutNsfw.modelPath) : undefined;
    // Image-to-image: encoded once per job with the job's VAE (Fooocus encodes once per task, with
    // final_vae, i.e. the vae_name override when there is one), so every image starts from it.
    const init = job.init ? await encodeInitImage(decoder, job.init, job.init.encodeSeed ?? job.seeds[0]) : undefined;
    // Image prompts: preprocessed once at the job's final size, on the model the base samples with.
    const prompted = job.imagePromptTasks?.slots.length
      ? await this.imagePrompts.prepare(job.imagePromptTasks, model, job.width, job.height, opts.signal)
      : undefined;
    const cache = new Map<string, TextConditioning>();
    const images: GeneratedImage[] = [];
    for (let i = 0; i < count; i++) {
      opts.signal?.throwIfAborted();
      const prompts = job.perImagePrompts?.[i] ?? { positive: job.positive, negative: job.negative };
      const seed = job.seeds[i];
      const positiveTopK = prompts.positiveTopK ?? job.positiveTopK ?? prompts.positive.length;
      const negativeTopK = prompts.negativeTopK ?? job.negativeTopK ?? prompts.negative.length;
      // Fooocus V2: expanded with the image's seed, appended AFTER the top-k count (never pooled).
      let expansionText: string | undefined;
      const positiveTexts = [...prompts.positive];
      if (expands[i] && expansion) {
        expansionText = await expansion.expand(prompts.expansionSource!, seed, { signal: opts.signal });
        positiveTexts.push(expansionText);
      }
      const positive = await encodeWorkloads(model, positiveTexts, { topK: positiveTopK, clipSkip: job.clipSkip, cache });
      const negative = await encodeWorkloads(model, prompts.negative, { topK: negativeTopK, clipSkip: job.clipSkip, cache });
      const onStep = async (e: StepEvent) => {
        // Abort reasons from the host carry stop/skip; anything else is a plain abort.
        if (opts.signal?.aborted) throw opts.signal.reason instanceof Error ? opts.signal.reason : new EngineAbortedError();
        const preview = job.previews ? await latentPreviewJpeg(e.denoised, e.latentShape[2], e.latentShape[3]) : undefined;
        opts.onProgress?.({
          imageIndex: i, imageCount: count, step: e.step, steps: e.steps,
          percent: Math.round(((i + e.step / e.steps) / count) * 100),
          preview: preview ? new Uint8Array(preview) : undefined,
        });
      };
      const kind = fooocusSamplingSigmas({ scheduler: job.scheduler, steps: job.steps, sampler: resolveSampler(job.sampler).name }).modelSampling.kind;
      let rgb: { rgb: Uint8Array; width: number; height: number };
      if (inpaint && job.inpaint) {
        // A real refiner runs as in text-to-image (without patch and head); without one, Fooocus'
        // synthetic refiner when the inpaint engine is on.
        const swap = (refinerJob ? refinerJob.swapMethod : job.inpaint.syntheticSwapMethod) === 'separate' ? 'separate' : 'joint';
        const out = await generateInpaintImage({
          job: job as TextToImageJob & { inpaint: InpaintJob },
          patched: inpaint.patched,
          refiner: refiner ?? (job.inpaint.patchPath ? inpaint.synthetic : null),
          switchStep: refinerJob ? refinerJob.switchStep : job.inpaint.patchPath ? Math.min(job.inpaint.syntheticSwitchStep, job.steps) : job.steps,
          swapMethod: swap,
          head: inpaint.head,
          vae: decoder,
          kind, seed, positive, negative, onStep,
          signal: opts.signal,
          imagePrompts: prompted?.imagePrompts,
          controls: prompted?.controls,
        });
        rgb = { rgb: out.data, width: out.width, height: out.height };
      } else {
        const latent = await sampleTextToImage({
          model, job, seed, positive, negative, refiner, initLatent: init?.latent, signal: opts.signal, onStep,
          imagePrompts: prompted?.imagePrompts, controls: prompted?.controls,
        });
        // Always the base's VAE (or job.vae): Fooocus discards a refiner's VAE.
        rgb = await decodeLatent(decoder, latent, kind, [1, 4, job.height / 8, job.width / 8]);
      }
      // Fooocus default_censor: a flagged image becomes black, same size.
      const nsfw = checker ? (await checker.check(rgb)).nsfw : false;
      const pixels = nsfw ? new Uint8Array(rgb.rgb.length) : rgb.rgb;
      const format = job.format ?? 'png';
      const data = new Uint8Array(await encodeRgb8(pixels, rgb.width, rgb.height, { format, quality: job.quality }));
      images.push({
        seed, width: rgb.width, height: rgb.height, format, data,
        positive: positiveTexts,
        negative: [...prompts.negative],
        ...(expansionText !== undefined ? { expansion: expansionText } : {}),
        ...(checker ? { nsfw } : {}),
        ...(warnings.length > 0 ? { warnings } : {}),
      });
    }
    return images;
  }

  /**
   * Fooocus perform_upscale with the model at `modelPath` (a torch `.bin` or a `.safetensors`;
   * CheckpointError naming it when absent or not an ESRGAN), then `opts.resize` and
   * `opts.blackOutNsfw`. Aborts between tiles with the signal's reason.
   */
  async upscale(modelPath: string, pixels: RgbImage, opts: UpscaleImageOptions = {}): Promise<UpscaledImage> {
    const { width, height } = pixels;
    if (!Number.isInteger(width) || !Number.isInteger(height) || width < 1 || height < 1 || pixels.data.length !== width * height * 3) {
      throw new EngineInputError(`upscale input must be HWC RGB bytes of a positive integer size, got ${width}×${height} with ${pixels.data.length} bytes`);
    }
    const resize = opts.resize;
    if (resize && !validResize(resize)) {
      throw new EngineInputError(`upscale resize must be a shape ceil ≥ 64 or a positive integer size, got ${JSON.stringify(resize)}`);
    }
    opts.signal?.throwIfAborted();
    const upscaler = await this.loadUpscaler(modelPath);
    const out = await upscaler.upscale(pixels, { signal: opts.signal, onTile: (tile, tiles) => opts.onProgress?.({ tile, tiles }) });
    let image: U8Image = { ...out, channels: 3 };
    if (resize) {
      opts.signal?.throwIfAborted();
      image = 'shapeCeil' in resize ? setImageShapeCeil(image, resize.shapeCeil) : resampleLanczos(image, resize.width, resize.height);
    }
    let nsfw: boolean | undefined;
    if (opts.blackOutNsfw) {
      const checker = await this.loadSafetyChecker(opts.blackOutNsfw.modelPath);
      nsfw = (await checker.check({ rgb: image.data, width: image.width, height: image.height })).nsfw;
      // Fooocus default_censor: a flagged image becomes black, same size.
      if (nsfw) image = { ...image, data: new Uint8Array(image.data.length) };
    }
    return { data: image.data, width: image.width, height: image.height, scale: upscaler.config.scale, ...(nsfw !== undefined ? { nsfw } : {}) };
  }

  /**
   * Fooocus inpaint's image side for one task (inpaint/prepareInpaintCanvas.ts), with
   * `req.upscalerPath`'s ESRGAN for small crops. Null when Fooocus would not inpaint (no mask
   * pixel > 127 and no outpaint side): the caller runs text-to-image. Aborts between stages.
   */
  async prepareInpaint(req: InpaintPrepareRequest, opts: { signal?: AbortSignal } = {}): Promise<PreparedInpaint | null> {
    opts.signal?.throwIfAborted();
    return prepareInpaintCanvas(req, {
      signal: opts.signal,
      upscale: async (crop) => {
        const upscaler = await this.loadUpscaler(req.upscalerPath);
        const out = await upscaler.upscale({ data: crop.data, width: crop.width, height: crop.height }, { signal: opts.signal });
        return { data: out.data, width: out.width, height: out.height, channels: 3 };
      },
    });
  }

  async close(): Promise<void> {
    this.inpaintHead = null;
    await this.imagePrompts.close();
    const upscaler = this.upscaler;
    this.upscaler = null;
    await upscaler?.load.then((u) => u.close()).catch(() => undefined);
    const all = [...this.loaded.values()];
    this.loaded.clear();
    const vae = this.vae;
    this.vae = null;
    await vae?.load.then((v) => v.close()).catch(() => undefined);
    const expansion = this.expansion;
    this.expansion = null;
    await expansion?.load.then((e) => e.close()).catch(() => undefined);
    const checker = this.safetyChecker;
    this.safetyChecker = null;
    await checker?.load.then((c) => c.close()).catch(() => undefined);
    for (const p of all) await p.then((m) => m.close()).catch(() => undefined);
  }

  /** The separate VAE at `path`, checked against `checkpoint`'s own VAE (CheckpointError when it does not fit). */
  private async loadVae(path: string, checkpoint: string): Promise<LoadedVae> {
    if (this.vae?.path !== path) {
      const previous = this.vae;
      const load = LoadedVae.load(path, { cacheDir: this.config.cacheDir, compute: 'float32', session: this.sessionOptions() });
      this.vae = { path, load };
      load.catch(() => {
        if (this.vae?.load === load) this.vae = null;
      });
      previous?.load.then((v) => v.close()).catch(() => undefined);
    }
    const vae = await this.vae!.load;
    vae.assertFits(checkpoint);
    return vae;
  }

  /**
   * The inpaint job's models on `checkpoint`: base + LoRAs + patch, and the synthetic refiner
   * (base + LoRAs), through the checkpoint's LoRA variants; the head when the engine is on.
   */
  private async inpaintModelsFor(checkpoint: string, loras: TextToImageJob['loras'], job: InpaintJob, keep: number) {
    const base = await this.load(checkpoint, keep, { warm: false });
    const models = await inpaintModels(base, { loras: loras ?? [], patchPath: job.patchPath });
    let head: InpaintHead | null = null;
    if (job.headPath) {
      if (this.inpaintHead?.path !== job.headPath) this.inpaintHead = { path: job.headPath, head: loadInpaintHead(job.headPath) };
      head = this.inpaintHead.head;
    }
    return { ...models, head };
  }

  /** The upscaler at `path`, loaded once (CheckpointError naming it when it is missing or not an ESRGAN). */
  private loadUpscaler(path: string): Promise<LoadedUpscaler> {
    if (this.upscaler?.path !== path) {
      const previous = this.upscaler;
      // float32 like the VAE: the golden-verified precision; Fooocus runs fp16 on a GPU.
      const load = LoadedUpscaler.load(path, { cacheDir: this.config.cacheDir, compute: 'float32', session: this.sessionOptions() });
      this.upscaler = { path, load };
      load.catch(() => {
        if (this.upscaler?.load === load) this.upscaler = null;
      });
      previous?.load.then((u) => u.close()).catch(() => undefined);
    }
    return this.upscaler!.load;
  }

  /** The Fooocus V2 expansion in `folder`, loaded once (ExpansionFolderError naming missing files). */
  private loadExpansion(folder: string): Promise<PromptExpansion> {
    if (this.expansion?.folder !== folder) {
      const previous = this.expansion;
      const load = loadExpansion(folder, { cacheDir: this.config.cacheDir, compute: 'float32', session: this.sessionOptions() });
      this.expansion = { folder, load };
      load.catch(() => {
        if (this.expansion?.load === load) this.expansion = null;
      });
      previous?.load.then((e) => e.close()).catch(() => undefined);
    }
    return this.expansion!.load;
  }

  /** The NSFW classifier at `path`, opened once (SafetyCheckerMissingError when absent). */
  private loadSafetyChecker(path: string): Promise<SafetyChecker> {
    if (this.safetyChecker?.path !== path) {
      const previous = this.safetyChecker;
      const load = SafetyChecker.openFile(path, { providers: this.sessionOptions().providers });
      this.safetyChecker = { path, load };
      load.catch(() => {
        if (this.safetyChecker?.load === load) this.safetyChecker = null;
      });
      previous?.load.then((c) => c.close()).catch(() => undefined);
    }
    return this.safetyChecker!.load;
  }

  /** Session options of the chosen provider ('auto' → the one that opened, else CPU). */
  private sessionOptions() {
    const choice = this.config.provider && this.config.provider !== 'auto' ? providerChoice(this.config.provider, this.config.deviceId) : this.provider ?? providerChoice('cpu');
    return { intraOpThreads: this.config.intraOpThreads, providers: choice.providers };
  }

  private async open(checkpoint: string, warm: boolean): Promise<LoadedCheckpoint> {
    const cacheDir = this.config.cacheDir;
    const session = { intraOpThreads: this.config.intraOpThreads };
    const name = this.config.provider ?? 'cpu';
    if (name !== 'auto') {
      const choice = providerChoice(name, this.config.deviceId);
      const m = await LoadedCheckpoint.load(checkpoint, { cacheDir, compute: choice.compute, session: { ...session, providers: choice.providers }, maxLoadedVariants: this.config.maxLoadedVariants });
      if (warm) await m.warm();
      return m;
    }
    // 'auto': the first provider whose sessions open wins and is remembered (so this always warms).
    const candidates = this.provider ? [this.provider] : autoCandidates(this.config.deviceId);
    let lastError: unknown;
    for (const choice of candidates) {
      const m = await LoadedCheckpoint.load(checkpoint, { cacheDir, compute: choice.compute, session: { ...session, providers: choice.providers }, maxLoadedVariants: this.config.maxLoadedVariants });
      try {
        await m.warm();
        this.provider = choice;
        return m;
      } catch (e) {
        lastError = e;
        await m.close();
      }
    }
    throw lastError;
  }
}

/** The merge report's warnings of a LoRA variant (none for a checkpoint without LoRAs). */
function loraWarnings(model: LoadedCheckpoint, prefix: string): string[] {
  return (model.lora?.report.warnings ?? []).map((w) => prefix + w);
}

export function defaultCacheDir(modelsDir: string): string {
  return join(modelsDir, '.onnx-cache');
}

function validResize(resize: UpscaleResize): boolean {
  if ('shapeCeil' in resize) return Number.isFinite(resize.shapeCeil) && resize.shapeCeil >= 64;
  return Number.isInteger(resize.width) && Number.isInteger(resize.height) && resize.width >= 1 && resize.height >= 1;
}

function validateJob(job: TextToImageJob): void {
  if (!Number.isInteger(job.steps) || job.steps < 1 || job.steps > 1000) throw new EngineInputError(`steps must be an integer in 1..1000, got ${job.steps}`);
  if (!Number.isInteger(job.width) || !Number.isInteger(job.height) || job.width < 64 || job.height < 64) {
    throw new EngineInputError(`width and height must be integers ≥ 64, got ${job.width}×${job.height}`);
  }
  if (job.seeds.length === 0) throw new EngineInputError('at least one seed is needed');
  for (const s of job.seeds) if (s < 0n || s > MAX_SEED) throw new EngineInputError(`seed ${s} is outside 0..2^63−1`);
  if (!Number.isFinite(job.cfg) || job.cfg <= 0) throw new EngineInputError(`cfg must be positive, got ${job.cfg}`);
  if (job.clipSkip !== undefined && !(Number.isInteger(job.clipSkip) && job.clipSkip >= 1 && job.clipSkip <= 12)) {
    throw new EngineInputError(`clip_skip must be an integer in 1..12, got ${job.clipSkip}`);
  }
  if (job.adm && ![job.adm.positive, job.adm.negative, job.adm.end].every(Number.isFinite)) {
    throw new EngineInputError(`ADM scalers must be finite numbers, got ${JSON.stringify(job.adm)}`);
  }
  if (job.freeu && ![job.freeu.b1, job.freeu.b2, job.freeu.s1, job.freeu.s2].every(Number.isFinite)) {
    throw new EngineInputError(`FreeU parameters must be finite numbers, got ${JSON.stringify(job.freeu)}`);
  }
  if (job.init) {
    const { init } = job;
    if (!(init.denoise > 0 && init.denoise <= 1)) throw new EngineInputError(`init image denoise must be in (0, 1], got ${init.denoise}`);
    if (init.width !== job.width || init.height !== job.height) {
      throw new EngineInputError(`init image is ${init.width}×${init.height}, the job ${job.width}×${job.height}: they must be equal`);
    }
    if (init.width % VAE_DOWNSCALE !== 0 || init.height % VAE_DOWNSCALE !== 0) {
      throw new EngineInputError(`init image size must be a multiple of ${VAE_DOWNSCALE}, got ${init.width}×${init.height}`);
    }
    if (init.rgb.length !== init.width * init.height * 3) {
      throw new EngineInputError(`init image has ${init.rgb.length} bytes, expected ${init.width}×${init.height}×3`);
    }
    if (init.encodeSeed !== undefined && (init.encodeSeed < 0n || init.encodeSeed > MAX_SEED)) {
      throw new EngineInputError(`init encode seed ${init.encodeSeed} is outside 0..2^63−1`);
    }
  }
  if (job.inpaint) validateInpaintJob(job, job.inpaint);
  // A refiner equal to the base is dropped unchecked, as Fooocus drops it.
  if (job.refiner && job.refiner.checkpoint !== job.checkpoint) validateRefinerJob(job.refiner, job.steps);
}

function validateInpaintJob(job: TextToImageJob, inpaint: InpaintJob): void {
  if (job.init) throw new EngineInputError('a job is either image-to-image (init) or inpaint, not both');
  if (!(inpaint.denoise > 0 && inpaint.denoise <= 1)) throw new EngineInputError(`inpaint strength must be in (0, 1], got ${inpaint.denoise}`);
  if ((inpaint.headPath === null) !== (inpaint.patchPath === null)) throw new EngineInputError('inpaint head and patch go together (both, or neither for inpaint engine None)');
  const { image, original, area } = inpaint.prepared;
  if (image.width !== job.width || image.height !== job.height) {
    throw new EngineInputError(`inpaint crop is ${image.width}×${image.height}, the job ${job.width}×${job.height}: they must be equal`);
  }
  if (image.width % VAE_DOWNSCALE !== 0 || image.height % VAE_DOWNSCALE !== 0) throw new EngineInputError(`inpaint crop size must be a multiple of ${VAE_DOWNSCALE}, got ${image.width}×${image.height}`);
  const plane = image.width * image.height;
  if (image.channels !== 3 || image.data.length !== plane * 3 || inpaint.prepared.fill.length !== plane * 3 || inpaint.prepared.mask.length !== plane) {
    throw new EngineInputError('inpaint crop, fill and mask sizes do not match');
  }
  if (original.channels !== 3 || original.data.length !== original.width * original.height * 3 || inpaint.prepared.softMask.length !== original.width * original.height) {
    throw new EngineInputError('inpaint canvas and soft mask sizes do not match');
  }
  const [a, b, c, d] = area;
  if (!(0 <= a && a < b && b <= original.height && 0 <= c && c < d && d <= original.width)) {
    throw new EngineInputError(`inpaint area [${area.join(', ')}] is outside the ${original.width}×${original.height} canvas`);
  }
  if (!Number.isInteger(inpaint.syntheticSwitchStep) || inpaint.syntheticSwitchStep < 0) {
    throw new EngineInputError(`inpaint synthetic refiner switch step must be a non-negative integer, got ${inpaint.syntheticSwitchStep}`);
  }
}
