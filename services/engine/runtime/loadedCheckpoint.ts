/**
 * One SDXL checkpoint ready to run: its inspected configuration, its graphs
 * (built once, cached on disk by content hash) and one onnxruntime session
 * per graph. Sessions are created lazily (the VAE encoder only when an
 * image-to-image feature asks) and reused across jobs.
 */
import type * as ort from 'onnxruntime-node';
import { openSafetensors, type SafetensorsFile } from '../io/safetensors.ts';
import { checkpointWeights, type WeightSource } from '../onnx/weightSource.ts';
import type { BuiltModel, ComputeType } from '../onnx/graphBuilder.ts';
import { buildClipGGraph, buildClipLGraph, CLIP_HIDDEN_STATES, CLIP_INPUT_IDS, CLIP_POOLED, REFINER_CLIP_G_PREFIX } from '../graphs/clipTextGraph.ts';
import type { ClipConfig } from '../graphs/clipConfig.ts';
import { buildUnetGraph, UNET_IO } from '../graphs/unetGraph.ts';
import { buildVaeDecoderGraph, VAE_DECODER_INPUT, VAE_DECODER_OUTPUT } from '../graphs/vaeDecoderGraph.ts';
import { buildVaeEncoderGraph, VAE_ENCODER_INPUT, VAE_ENCODER_OUTPUT } from '../graphs/vaeEncoderGraph.ts';
import { inspectCheckpoint, type CheckpointInspection } from '../io/inspectCheckpoint.ts';
import { cachedFileSha256 } from './contentHash.ts';
import { ensureGraph, graphDir } from './graphCache.ts';
import { createSession, runFloat, type SessionOptions } from './onnxSession.ts';

export type GraphName = 'clip_l' | 'clip_g' | 'unet' | 'vae_decoder' | 'vae_encoder';

export interface LoadOptions {
  cacheDir: string;
  compute: ComputeType;
  session: SessionOptions;
}

export interface ClipOutput {
  /** [L+1, B, 77, W] */
  hidden: Float32Array;
  layers: number;
  width: number;
  batch: number;
  /** [B, P] for CLIP-G. */
  pooled?: Float32Array;
}

export interface FloatTensor {
  data: Float32Array;
  dims: readonly number[];
}

/** Graphs never run in fp16 whatever the provider: the SDXL VAE overflows it (pipeline.md §1.12). */
const ALWAYS_FP32: ReadonlySet<GraphName> = new Set(['vae_decoder', 'vae_encoder']);

export class LoadedCheckpoint {
  private sessions = new Map<GraphName, Promise<ort.InferenceSession>>();
  /** Graphs this object built (not found in the cache); for tests and logs. */
  readonly builtGraphs: GraphName[] = [];
  clipL?: ClipConfig;
  clipG?: ClipConfig;

  private constructor(
    readonly path: string,
    readonly contentHash: string,
    readonly inspection: CheckpointInspection,
    private readonly file: SafetensorsFile,
    private readonly weights: WeightSource,
    private readonly opts: LoadOptions,
  ) {}

  static async load(path: string, opts: LoadOptions): Promise<LoadedCheckpoint> {
    const inspection = inspectCheckpoint(path);
    const file = openSafetensors(path);
    const contentHash = await cachedFileSha256(path, opts.cacheDir);
    return new LoadedCheckpoint(path, contentHash, inspection, file, checkpointWeights(file), opts);
  }

  get isRefiner(): boolean {
    return this.inspection.kind === 'sdxl_refiner';
  }

  computeOf(graph: GraphName): ComputeType {
    return ALWAYS_FP32.has(graph) ? 'float32' : this.opts.compute;
  }

  /** Builds (or finds) every graph txt2img needs and opens its session. */
  async warm(graphs: GraphName[] = this.isRefiner ? ['clip_g', 'unet', 'vae_decoder'] : ['clip_l', 'clip_g', 'unet', 'vae_decoder']): Promise<void> {
    await Promise.all(graphs.map((g) => this.session(g)));
  }

  async encodeClip(which: 'clip_l' | 'clip_g', ids: BigInt64Array, batch: number): Promise<ClipOutput> {
    const session = await this.session(which);
    const out = await runFloat(session, this.computeOf(which), { [CLIP_INPUT_IDS]: { type: 'int64', data: ids, dims: [batch, ids.length / batch] } });
    const hs = out[CLIP_HIDDEN_STATES];
    return {
      hidden: hs.data,
      layers: hs.dims[0] - 1,
      batch: hs.dims[1],
      width: hs.dims[3],
      pooled: out[CLIP_POOLED]?.data,
    };
  }

  async unet(x: FloatTensor, timesteps: Float32Array, context: FloatTensor, y: FloatTensor): Promise<Float32Array> {
    const session = await this.session('unet');
    const feeds: Record<string, import('./onnxSession.ts').Feed> = {
      [UNET_IO.x]: { type: 'float', ...x },
      [UNET_IO.timesteps]: { type: 'float', data: timesteps, dims: [timesteps.length] },
    };
    if (session.inputNames.includes(UNET_IO.context)) feeds[UNET_IO.context] = { type: 'float', ...context };
    if (session.inputNames.includes(UNET_IO.y)) feeds[UNET_IO.y] = { type: 'float', ...y };
    // The UNet graph's I/O is float32 for either compute type.
    const out = await runFloat(session, 'float32', feeds, [UNET_IO.eps]);
    return out[UNET_IO.eps].data;
  }

  async decode(z: FloatTensor): Promise<FloatTensor> {
    const session = await this.session('vae_decoder');
    const out = await runFloat(session, 'float32', { [VAE_DECODER_INPUT]: { type: 'float', ...z } });
    return out[VAE_DECODER_OUTPUT];
  }

  async encode(image: FloatTensor): Promise<FloatTensor> {
    const session = await this.session('vae_encoder');
    const out = await runFloat(session, 'float32', { [VAE_ENCODER_INPUT]: { type: 'float', ...image } });
    return out[VAE_ENCODER_OUTPUT];
  }

  async close(): Promise<void> {
    const all = await Promise.allSettled([...this.sessions.values()]);
    for (const s of all) if (s.status === 'fulfilled') await s.value.release();
    this.sessions.clear();
    this.file.close();
  }

  session(graph: GraphName): Promise<ort.InferenceSession> {
    let s = this.sessions.get(graph);
    if (!s) {
      s = this.openSession(graph);
      this.sessions.set(graph, s);
      // A failed open must not poison the cache for the next job.
      s.catch(() => this.sessions.delete(graph));
    }
    return s;
  }

  private async openSession(graph: GraphName): Promise<ort.InferenceSession> {
    const compute = this.computeOf(graph);
    const dir = graphDir(this.opts.cacheDir, this.contentHash, graph, compute);
    const cached = ensureGraph(dir, () => this.build(graph, compute));
    if (cached.built) this.builtGraphs.push(graph);
    return createSession(cached.modelPath, this.opts.session);
  }

  private build(graph: GraphName, compute: ComputeType): BuiltModel {
    const weights = this.weights;
    switch (graph) {
      case 'clip_l': {
        const g = buildClipLGraph({ weights, compute });
        this.clipL = g.config;
        return g.model;
      }
      case 'clip_g': {
        const g = buildClipGGraph({ weights, compute, prefix: this.isRefiner ? REFINER_CLIP_G_PREFIX : undefined });
        this.clipG = g.config;
        return g.model;
      }
      case 'unet':
        return buildUnetGraph({ weights, compute });
      case 'vae_decoder':
        return buildVaeDecoderGraph({ weights, compute }).model;
      case 'vae_encoder':
        return buildVaeEncoderGraph({ weights, compute }).model;
    }
  }
}
