/**
 * Fooocus's image-prompt preprocessing for a job (F modules/async_worker.py
 * apply_control_nets; pipeline.md §3.5, §3.7), run in the engine (thread)
 * because PyraCanny, CPDS and CLIP vision are seconds of CPU:
 *   - PyraCanny / CPDS: resize (fill and crop) to the job's size, the
 *     preprocessor unless skipped, HWC3, /255 — then the Control-LoRA of the
 *     type assembled on the job's base model (its LoRA / inpaint variant, as
 *     ComfyUI copies the patched weights), strength = weight, softness;
 *   - ImagePrompt: CLIP vision + Resampler + To_KV of the adapter, the
 *     negative tokens' K/V as the uncond rows.
 * Fooocus applies the Control-LoRAs by type, PyraCanny before CPDS, and the
 * image prompts in slot order; both patch the base only (the refiner gets
 * neither).
 *
 * The worker sends one job per image of a task; the results of the last job
 * are kept, keyed by content (image bytes, size, settings, model files), so
 * a task preprocesses once. The adapter and the Control-LoRAs stay loaded:
 * one adapter, the last two Control-LoRAs (a task may use both types).
 */
import { createHash } from 'node:crypto';
import { controlImageHint } from '../controlnet/controlHint.ts';
import { LoadedControlLora, type ControlRequest } from '../controlnet/loadedControlLora.ts';
import { EngineInputError } from '../io/engineErrors.ts';
import type { IpAdapterImage, IpProjections } from '../ipadapter/ipAdapterAttention.ts';
import { LoadedIpAdapter } from '../ipadapter/loadedIpAdapter.ts';
import type { ImagePromptTask, ImagePromptTasks } from '../job.ts';
import type { ComputeType } from '../onnx/graphBuilder.ts';
import type { FloatTensor, LoadedCheckpoint } from '../runtime/loadedCheckpoint.ts';
import type { SessionOptions } from '../runtime/onnxSession.ts';

/** What the base denoiser gets. */
export interface PreparedImagePrompts {
  imagePrompts: IpAdapterImage[];
  controls: ControlRequest[];
}

export interface ImagePromptPreparerOptions {
  cacheDir: string;
  /** Session options of the engine's provider. */
  session: () => SessionOptions;
  /** ControlNet graph precision: the base model's. */
  compute: (base: LoadedCheckpoint) => ComputeType;
}

const MAX_CONTROL_LORAS = 2;

export class ImagePromptPreparer {
  private ipAdapter: { key: string; load: Promise<LoadedIpAdapter> } | null = null;
  private controlLoras = new Map<string, Promise<LoadedControlLora>>();
  /** The last job's preprocessed slots, by content key. */
  private ipCache = new Map<string, IpProjections>();
  private hintCache = new Map<string, FloatTensor>();

  constructor(private readonly opts: ImagePromptPreparerOptions) {}

  async prepare(tasks: ImagePromptTasks, base: LoadedCheckpoint, width: number, height: number, signal?: AbortSignal): Promise<PreparedImagePrompts> {
    validateTasks(tasks);
    const ipCache = new Map<string, IpProjections>();
    const hintCache = new Map<string, FloatTensor>();
    const imagePrompts: IpAdapterImage[] = [];
    const controls: ControlRequest[] = [];
    {
      const ipSlots = tasks.slots.filter((s) => s.type === 'ImagePrompt');
      if (ipSlots.length > 0) {
        if (!tasks.ipAdapter) throw new EngineInputError('an ImagePrompt image prompt needs the IP-Adapter files (imagePromptTasks.ipAdapter)');
        const files = tasks.ipAdapter;
        const ip = await this.loadIpAdapter(files);
        const uncond = await ip.negative();
        for (const slot of ipSlots) {
          signal?.throwIfAborted();
          const key = digest([files.clipVision, files.ipAdapter, files.negative], slot);
          let cond = this.ipCache.get(key) ?? ipCache.get(key);
          if (!cond) cond = (await ip.encode(slot.image)).cond;
          ipCache.set(key, cond);
          imagePrompts.push({ cond, uncond, weight: slot.weight, stop: slot.stop });
        }
      }
      for (const type of ['PyraCanny', 'CPDS'] as const) {
        const slots = tasks.slots.filter((s) => s.type === type);
        if (slots.length === 0) continue;
        const path = type === 'PyraCanny' ? tasks.pyraCanny : tasks.cpds;
        if (!path) throw new EngineInputError(`a ${type} image prompt needs its Control-LoRA file (imagePromptTasks.${type === 'PyraCanny' ? 'pyraCanny' : 'cpds'})`);
        const net = await this.loadControlLora(path, base);
        for (const slot of slots) {
          signal?.throwIfAborted();
          const settings = [type, width, height, tasks.skipPreprocessor ?? false, ...(type === 'PyraCanny' ? [tasks.cannyLow ?? 64, tasks.cannyHigh ?? 128] : [])];
          const key = digest(settings.map(String), slot);
          let hint = this.hintCache.get(key) ?? hintCache.get(key);
          if (!hint) {
            hint = controlImageHint(type, slot.image, width, height, { low: tasks.cannyLow, high: tasks.cannyHigh, skipPreprocessor: tasks.skipPreprocessor }).tensor;
          }
          hintCache.set(key, hint);
          controls.push({ net, hint, strength: slot.weight, softness: tasks.softness, start: 0, stop: slot.stop });
        }
      }
    }
    // Only what this job used is kept: the next job of the same task finds all of it.
    this.ipCache = ipCache;
    this.hintCache = hintCache;
    return { imagePrompts, controls };
  }

  async close(): Promise<void> {
    const ip = this.ipAdapter;
    this.ipAdapter = null;
    await ip?.load.then((a) => a.close()).catch(() => undefined);
    const nets = [...this.controlLoras.values()];
    this.controlLoras.clear();
    for (const n of nets) await n.then((c) => c.close()).catch(() => undefined);
    this.ipCache.clear();
    this.hintCache.clear();
  }

  private loadIpAdapter(files: NonNullable<ImagePromptTasks['ipAdapter']>): Promise<LoadedIpAdapter> {
    const key = `${files.clipVision}\0${files.ipAdapter}\0${files.negative}`;
    if (this.ipAdapter?.key !== key) {
      const previous = this.ipAdapter;
      // float32: the golden-verified precision of the CLIP vision / Resampler / To_KV graphs.
      const load = LoadedIpAdapter.load(files, { cacheDir: this.opts.cacheDir, compute: 'float32', session: this.opts.session() });
      this.ipAdapter = { key, load };
      load.catch(() => {
        if (this.ipAdapter?.load === load) this.ipAdapter = null;
      });
      previous?.load.then((a) => a.close()).catch(() => undefined);
    }
    return this.ipAdapter!.load;
  }

  private loadControlLora(path: string, base: LoadedCheckpoint): Promise<LoadedControlLora> {
    const key = `${path}\0${base.weightsId}`;
    const hit = this.controlLoras.get(key);
    if (hit) {
      this.controlLoras.delete(key);
      this.controlLoras.set(key, hit);
      return hit;
    }
    const load = LoadedControlLora.load(path, base, { cacheDir: this.opts.cacheDir, compute: this.opts.compute(base), session: this.opts.session() });
    this.controlLoras.set(key, load);
    load.catch(() => {
      if (this.controlLoras.get(key) === load) this.controlLoras.delete(key);
    });
    while (this.controlLoras.size > MAX_CONTROL_LORAS) {
      const [oldest, op] = this.controlLoras.entries().next().value as [string, Promise<LoadedControlLora>];
      this.controlLoras.delete(oldest);
      op.then((c) => c.close()).catch(() => undefined);
    }
    return load;
  }
}

/** Content key of one slot's preprocessing (its image bytes and size plus `settings`). */
function digest(settings: readonly string[], slot: ImagePromptTask): string {
  const h = createHash('sha256');
  h.update(settings.join('\0'));
  h.update(`\0${slot.image.width}x${slot.image.height}x${slot.image.channels}\0`);
  h.update(slot.image.data);
  return h.digest('hex');
}

function validateTasks(tasks: ImagePromptTasks): void {
  for (const [i, s] of tasks.slots.entries()) {
    if (s.type !== 'ImagePrompt' && s.type !== 'PyraCanny' && s.type !== 'CPDS') throw new EngineInputError(`image prompt ${i}: unknown type ${String(s.type)}`);
    if (!(s.stop >= 0 && s.stop <= 1)) throw new EngineInputError(`image prompt ${i}: stop must be in 0..1, got ${s.stop}`);
    if (!Number.isFinite(s.weight)) throw new EngineInputError(`image prompt ${i}: weight must be a finite number, got ${s.weight}`);
    const { width, height, channels, data } = s.image;
    if (!(Number.isInteger(width) && Number.isInteger(height) && width >= 1 && height >= 1 && channels >= 1 && channels <= 4 && data.length === width * height * channels)) {
      throw new EngineInputError(`image prompt ${i}: the image must be 8-bit HWC with 1..4 channels, got ${width}×${height}×${channels} with ${data.length} bytes`);
    }
  }
  if (tasks.softness !== undefined && !(tasks.softness >= 0 && tasks.softness <= 1)) throw new EngineInputError(`controlnet softness must be in 0..1, got ${tasks.softness}`);
}
