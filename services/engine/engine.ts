/**
 * The engine: checkpoints in, images out. Keeps the most recently used
 * checkpoints loaded (sessions reused across jobs with the same checkpoint)
 * and runs one job at a time; progress per step with an optional preview,
 * cancellation through an AbortSignal between steps.
 */
import { join } from 'node:path';
import type { EngineConfig } from './engineConfig.ts';
import { encodeRgb8 } from './image/encodeImage.ts';
import { latentPreviewJpeg } from './image/latentPreview.ts';
import { EngineAbortedError, EngineInputError } from './io/engineErrors.ts';
import type { GenerateOptions, GeneratedImage, TextToImageJob } from './job.ts';
import { encodeWorkloads, type TextConditioning } from './pipeline/encodePrompt.ts';
import { decodeLatent, sampleTextToImage } from './pipeline/textToImage.ts';
import { fooocusSamplingSigmas } from './diffusion/samplingSigmas.ts';
import { resolveSampler } from './diffusion/samplers/index.ts';
import { autoCandidates, providerChoice, type ProviderChoice } from './runtime/executionProvider.ts';
import { LoadedCheckpoint } from './runtime/loadedCheckpoint.ts';

export const MAX_SEED = (1n << 63n) - 1n;

export class Engine {
  private loaded = new Map<string, Promise<LoadedCheckpoint>>();
  private provider: ProviderChoice | null = null;

  constructor(readonly config: EngineConfig) {}

  /** Loads (or finds) a checkpoint and opens its txt2img sessions. */
  async load(checkpoint: string): Promise<LoadedCheckpoint> {
    const hit = this.loaded.get(checkpoint);
    if (hit) {
      // Refresh LRU order.
      this.loaded.delete(checkpoint);
      this.loaded.set(checkpoint, hit);
      return hit;
    }
    const p = this.open(checkpoint);
    this.loaded.set(checkpoint, p);
    p.catch(() => this.loaded.delete(checkpoint));
    const max = Math.max(1, this.config.maxLoadedCheckpoints ?? 1);
    while (this.loaded.size > max) {
      const [oldest, op] = this.loaded.entries().next().value as [string, Promise<LoadedCheckpoint>];
      this.loaded.delete(oldest);
      op.then((m) => m.close()).catch(() => undefined);
    }
    return p;
  }

  async generate(job: TextToImageJob, opts: GenerateOptions = {}): Promise<GeneratedImage[]> {
    validateJob(job);
    const model = await this.load(job.checkpoint);
    if (model.isRefiner) {
      throw new EngineInputError(`${job.checkpoint} is an SDXL refiner; it cannot be used as the base model`);
    }
    const cache = new Map<string, TextConditioning>();
    const images: GeneratedImage[] = [];
    const count = job.seeds.length;
    for (let i = 0; i < count; i++) {
      opts.signal?.throwIfAborted();
      const prompts = job.perImagePrompts?.[i] ?? { positive: job.positive, negative: job.negative };
      const positive = await encodeWorkloads(model, prompts.positive, { topK: job.positiveTopK, clipSkip: job.clipSkip, cache });
      const negative = await encodeWorkloads(model, prompts.negative, { topK: job.negativeTopK, clipSkip: job.clipSkip, cache });
      const seed = job.seeds[i];
      const latent = await sampleTextToImage({
        model, job, seed, positive, negative,
        signal: opts.signal,
        onStep: async (e) => {
          // Abort reasons from the host carry stop/skip; anything else is a plain abort.
          if (opts.signal?.aborted) throw opts.signal.reason instanceof Error ? opts.signal.reason : new EngineAbortedError();
          const preview = job.previews ? await latentPreviewJpeg(e.denoised, e.latentShape[2], e.latentShape[3]) : undefined;
          opts.onProgress?.({
            imageIndex: i, imageCount: count, step: e.step, steps: e.steps,
            percent: Math.round(((i + e.step / e.steps) / count) * 100),
            preview: preview ? new Uint8Array(preview) : undefined,
          });
        },
      });
      const kind = fooocusSamplingSigmas({ scheduler: job.scheduler, steps: job.steps, sampler: resolveSampler(job.sampler).name }).modelSampling.kind;
      const rgb = await decodeLatent(model, latent, kind, [1, 4, job.height / 8, job.width / 8]);
      const format = job.format ?? 'png';
      const data = new Uint8Array(await encodeRgb8(rgb.rgb, rgb.width, rgb.height, { format, quality: job.quality, metadata: job.metadata }));
      images.push({ seed, width: rgb.width, height: rgb.height, format, data });
    }
    return images;
  }

  async close(): Promise<void> {
    const all = [...this.loaded.values()];
    this.loaded.clear();
    for (const p of all) await p.then((m) => m.close()).catch(() => undefined);
  }

  private async open(checkpoint: string): Promise<LoadedCheckpoint> {
    const cacheDir = this.config.cacheDir;
    const session = { intraOpThreads: this.config.intraOpThreads };
    const name = this.config.provider ?? 'cpu';
    if (name !== 'auto') {
      const choice = providerChoice(name, this.config.deviceId);
      const m = await LoadedCheckpoint.load(checkpoint, { cacheDir, compute: choice.compute, session: { ...session, providers: choice.providers } });
      await m.warm();
      return m;
    }
    // 'auto': the first provider whose sessions open wins and is remembered.
    const candidates = this.provider ? [this.provider] : autoCandidates(this.config.deviceId);
    let lastError: unknown;
    for (const choice of candidates) {
      const m = await LoadedCheckpoint.load(checkpoint, { cacheDir, compute: choice.compute, session: { ...session, providers: choice.providers } });
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

export function defaultCacheDir(modelsDir: string): string {
  return join(modelsDir, '.onnx-cache');
}

function validateJob(job: TextToImageJob): void {
  if (!Number.isInteger(job.steps) || job.steps < 1 || job.steps > 1000) throw new EngineInputError(`steps must be an integer in 1..1000, got ${job.steps}`);
  if (!Number.isInteger(job.width) || !Number.isInteger(job.height) || job.width < 64 || job.height < 64) {
    throw new EngineInputError(`width and height must be integers ≥ 64, got ${job.width}×${job.height}`);
  }
  if (job.seeds.length === 0) throw new EngineInputError('at least one seed is needed');
  for (const s of job.seeds) if (s < 0n || s > MAX_SEED) throw new EngineInputError(`seed ${s} is outside 0..2^63−1`);
  if (!Number.isFinite(job.cfg) || job.cfg <= 0) throw new EngineInputError(`cfg must be positive, got ${job.cfg}`);
}
