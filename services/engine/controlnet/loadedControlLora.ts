/**
 * A Control-LoRA ready to run on one base model (Fooocus's PyraCanny / CPDS
 * path, pipeline.md §3.7): its ControlNet weights assembled from THAT base's
 * UNet (controlLoraWeights.ts; a LoRA variant of the base gets its own,
 * since ComfyUI copies the patched weights), its graph (graphs/controlNetGraph.ts,
 * cached on disk under the assembled weights' id) and one session.
 *
 * `residuals` runs the ControlNet on the same batch the UNet is about to
 * run and returns the scaled residuals for `LoadedCheckpoint.unet`'s
 * `control` option.
 */
import type * as ort from 'onnxruntime-node';
import { buildControlNetGraph, CONTROLNET_IO, controlOutputScales, controlResidualCount, controlResidualName } from '../graphs/controlNetGraph.ts';
import { unetLayout } from '../graphs/unetLayout.ts';
import { openSafetensors, type SafetensorsFile } from '../io/safetensors.ts';
import type { ComputeType } from '../onnx/graphBuilder.ts';
import { cachedFileSha256 } from '../runtime/contentHash.ts';
import { ensureGraph, graphDir } from '../runtime/graphCache.ts';
import type { FloatTensor, LoadedCheckpoint } from '../runtime/loadedCheckpoint.ts';
import { createSession, runFloat, type Feed, type SessionOptions } from '../runtime/onnxSession.ts';
import { ensureControlLoraWeights, type ControlLoraContents, type ControlLoraPrecision, type ControlLoraWeights } from './controlLoraWeights.ts';

/** Fooocus's default `controlnet_softness` (F modules/config.py). */
export const DEFAULT_CONTROLNET_SOFTNESS = 0.25;

export interface LoadControlLoraOptions {
  cacheDir: string;
  compute: ComputeType;
  session: SessionOptions;
  /** Merged-weight precision: default 'float32' for float32 graphs, 'stored' (the base's dtype) for float16 ones. */
  precision?: ControlLoraPrecision;
}

/** One ControlNet evaluation's batch: the UNet's own inputs plus the hint. */
export interface ControlNetInput {
  /** [B, C, h, w], the UNet input (x·c_in). */
  x: FloatTensor;
  timesteps: Float32Array;
  context: FloatTensor;
  /** The ADM vector the UNet gets at this step (Fooocus's timed rule). */
  y: FloatTensor;
  /** [1 or B, 3, 8h, 8w] in [0, 1] (controlHint.ts). */
  hint: FloatTensor;
}

/** What the denoiser needs of a ControlNet (LoadedControlLora; a fake in tests). */
export interface ControlNetRunner {
  /** Residuals control_0 … control_N, each scaled by `scales[i]` (controlOutputScales). */
  residuals(input: ControlNetInput, scales: Float32Array): Promise<FloatTensor[]>;
  /** Number of residuals (skips + middle). */
  readonly residualCount: number;
}

export class LoadedControlLora implements ControlNetRunner {
  private sessionLoad?: Promise<ort.InferenceSession>;
  /** True when this load built the graph (not found in the cache); for tests and logs. */
  built = false;

  private constructor(
    readonly path: string,
    private readonly file: SafetensorsFile,
    private readonly assembled: ControlLoraWeights,
    private readonly base: LoadedCheckpoint,
    private readonly opts: LoadControlLoraOptions,
    readonly residualCount: number,
  ) {}

  /** Assembles the ControlNet of `path` on `base` (merging on the first load); throws CheckpointError for a file that is not a Control-LoRA or does not fit. */
  static async load(path: string, base: LoadedCheckpoint, opts: LoadControlLoraOptions): Promise<LoadedControlLora> {
    const file = openSafetensors(path);
    try {
      const assembled = await ensureControlLoraWeights({
        base: base.unetWeights(),
        baseId: base.weightsId,
        file,
        fileHash: await cachedFileSha256(path, opts.cacheDir),
        cacheDir: opts.cacheDir,
        precision: opts.precision ?? (opts.compute === 'float32' ? 'float32' : 'stored'),
      });
      return new LoadedControlLora(path, file, assembled, base, opts, controlResidualCount(unetLayout(base.inspection.unet)));
    } catch (e) {
      file.close();
      throw e;
    }
  }

  get contents(): ControlLoraContents {
    return this.assembled.contents;
  }

  /** The assembled weights (ControlNet keys), e.g. to compare merged tensors. */
  get weights(): ControlLoraWeights['weights'] {
    return this.assembled.weights;
  }

  session(): Promise<ort.InferenceSession> {
    this.sessionLoad ??= (async () => {
      const dir = graphDir(this.opts.cacheDir, this.assembled.id, 'controlnet', this.opts.compute);
      const cached = ensureGraph(dir, () => buildControlNetGraph({ weights: this.assembled.weights, config: this.base.inspection.unet, compute: this.opts.compute }).model);
      this.built = cached.built;
      return createSession(cached.modelPath, this.opts.session);
    })();
    return this.sessionLoad;
  }

  async residuals(input: ControlNetInput, scales: Float32Array): Promise<FloatTensor[]> {
    if (scales.length !== this.residualCount) throw new RangeError(`ControlNet: ${scales.length} scales for ${this.residualCount} residuals`);
    const session = await this.session();
    const feeds: Record<string, Feed> = {
      [CONTROLNET_IO.x]: { type: 'float', ...input.x },
      [CONTROLNET_IO.hint]: { type: 'float', ...input.hint },
      [CONTROLNET_IO.timesteps]: { type: 'float', data: input.timesteps, dims: [input.timesteps.length] },
      [CONTROLNET_IO.scale]: { type: 'float', data: scales, dims: [scales.length] },
    };
    if (session.inputNames.includes(CONTROLNET_IO.context)) feeds[CONTROLNET_IO.context] = { type: 'float', ...input.context };
    if (session.inputNames.includes(CONTROLNET_IO.y)) feeds[CONTROLNET_IO.y] = { type: 'float', ...input.y };
    const names = Array.from({ length: this.residualCount }, (_, i) => controlResidualName(i));
    const out = await runFloat(session, 'float32', feeds, names);
    return names.map((n) => out[n]);
  }

  async close(): Promise<void> {
    if (this.sessionLoad) await (await this.sessionLoad.catch(() => null))?.release();
    this.assembled.close();
    this.file.close();
  }
}

/** One ControlNet applied to a generation (ComfyUI ControlNetApplyAdvanced + Fooocus softness). */
export interface ControlApplication {
  net: ControlNetRunner;
  hint: FloatTensor;
  /** Fooocus's weight; multiplies every residual. */
  strength: number;
  /** Default DEFAULT_CONTROLNET_SOFTNESS. */
  softness?: number;
  /** Active while sigmaLow ≤ σ ≤ sigmaHigh (controlSigmaRange). */
  sigmaHigh: number;
  sigmaLow: number;
}

/** ComfyUI `percent_to_sigma`: 0 → +∞ (999999999.9), 1 → 0, else σ(999·(1 − p)). */
export function percentToSigma(sigmaOf: (t: number) => number, percent: number): number {
  if (percent <= 0) return 999999999.9;
  if (percent >= 1) return 0;
  return sigmaOf((1 - percent) * 999);
}

/** The σ range of a ControlNet applied from `start` to `stop` (fractions of the schedule; Fooocus: 0 and the stop slider). */
export function controlSigmaRange(sigmaOf: (t: number) => number, start: number, stop: number): { sigmaHigh: number; sigmaLow: number } {
  return { sigmaHigh: percentToSigma(sigmaOf, start), sigmaLow: percentToSigma(sigmaOf, stop) };
}

/** ControlBase.get_control's rule: skipped when σ > high or σ < low. */
export function isControlActive(c: Pick<ControlApplication, 'sigmaHigh' | 'sigmaLow'>, sigma: number): boolean {
  return !(sigma > c.sigmaHigh || sigma < c.sigmaLow);
}

/**
 * The summed residuals of every active ControlNet for one UNet batch
 * (ComfyUI chains them through control_prev, adding); null when none is active.
 */
export async function controlResiduals(controls: readonly ControlApplication[], sigma: number, batch: Omit<ControlNetInput, 'hint'>): Promise<FloatTensor[] | null> {
  let sum: FloatTensor[] | null = null;
  for (const c of controls) {
    if (!isControlActive(c, sigma)) continue;
    const scales = controlOutputScales(c.net.residualCount, c.softness ?? DEFAULT_CONTROLNET_SOFTNESS, c.strength);
    const r = await c.net.residuals({ ...batch, hint: c.hint }, scales);
    if (!sum) sum = r;
    else sum = sum.map((s, i) => ({ dims: s.dims, data: s.data.map((v, j) => Math.fround(v + r[i].data[j])) }));
  }
  return sum;
}

/** A ControlNet to apply from `start` to `stop` of the schedule (Fooocus: 0 and cn_stop); controlApplications gives its σ range. */
export interface ControlRequest extends Omit<ControlApplication, 'sigmaHigh' | 'sigmaLow'> {
  /** Default 0. */
  start?: number;
  stop: number;
}

/** The requests with their σ ranges under `sigmaOf` (the job's model sampling). */
export function controlApplications(requests: readonly ControlRequest[], sigmaOf: (t: number) => number): ControlApplication[] {
  return requests.map(({ start, stop, ...c }) => ({ ...c, ...controlSigmaRange(sigmaOf, start ?? 0, stop) }));
}
