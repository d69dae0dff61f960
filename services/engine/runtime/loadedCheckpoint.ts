/**
 * One SDXL checkpoint ready to run: its inspected configuration, its graphs
 * (built once, cached on disk by content hash) and one onnxruntime session
 * per graph. Sessions are created lazily (the VAE encoder only when an
 * image-to-image feature asks) and reused across jobs.
 *
 * LoRA variants (`withLoras`): a LoadedCheckpoint over the same file whose
 * weights are `overlayWeights(checkpoint, merged shard)` (lora/mergeLoras.ts).
 * It builds and opens only the graphs its LoRAs patch (UNet graphs, CLIP-L,
 * CLIP-G), cached on disk under the variant hash instead of the content
 * hash, and borrows every other session (VAE, an untouched text encoder)
 * from the checkpoint it came from. The checkpoint owns its variants (an
 * LRU, lora/loraVariants.ts) and closes them with itself.
 */
import type * as ort from 'onnxruntime-node';
import { openSafetensors, type SafetensorsFile } from '../io/safetensors.ts';
import { checkpointWeights, overlayWeights, type WeightSource } from '../onnx/weightSource.ts';
import type { BuiltModel, ComputeType } from '../onnx/graphBuilder.ts';
import { buildClipGGraph, buildClipLGraph, CLIP_HIDDEN_STATES, CLIP_INPUT_IDS, CLIP_POOLED, REFINER_CLIP_G_PREFIX } from '../graphs/clipTextGraph.ts';
import type { ClipConfig } from '../graphs/clipConfig.ts';
import { freeuInput, type FreeuParams } from '../graphs/freeu.ts';
import { controlResidualName } from '../graphs/controlNetGraph.ts';
import { buildUnetGraph, UNET_IO, type UnetVariant } from '../graphs/unetGraph.ts';
import { unetWeightsOf } from '../graphs/unetConfig.ts';
import { UNET_IP_INPUT } from '../graphs/unetIpAdapter.ts';
import type { IpAdapterKv } from '../ipadapter/ipAdapterAttention.ts';
import { buildVaeDecoderGraph, VAE_DECODER_INPUT, VAE_DECODER_OUTPUT } from '../graphs/vaeDecoderGraph.ts';
import { buildVaeEncoderGraph, VAE_ENCODER_INPUT, VAE_ENCODER_OUTPUT } from '../graphs/vaeEncoderGraph.ts';
import { inspectCheckpoint, type CheckpointInspection } from '../io/inspectCheckpoint.ts';
import { cachedFileSha256 } from './contentHash.ts';
import { ensureGraph, graphDir } from './graphCache.ts';
import { createSession, runFloat, type SessionOptions } from './onnxSession.ts';
import { SessionCache } from './sessionCache.ts';
import { buildLoraKeyMap, type LoraGraph } from '../lora/loraKeyMap.ts';
import type { LoraRequest, LoraShard, ShardPrecision } from '../lora/mergeLoras.ts';
import { LoraVariants } from '../lora/loraVariants.ts';

/**
 * `unet_freeu`: the UNet with the FreeU input (graphs/freeu.ts), a second session opened on first use;
 * `unet_inpaint` / `unet_freeu_inpaint`: with the inpaint-head feature input (inpaint/inpaintHead.ts) too;
 * `…_ip`: any of those with the IP-Adapter K/V inputs (graphs/unetIpAdapter.ts);
 * `…_control`: any of those with the ControlNet residual inputs (graphs/controlNetGraph.ts).
 */
export type GraphName = 'clip_l' | 'clip_g' | UnetGraphName | 'vae_decoder' | 'vae_encoder';

type UnetGraphName = `unet${'' | '_freeu'}${'' | '_inpaint'}${'' | '_ip'}${'' | '_control'}`;

/** Per-call UNet options (`LoadedCheckpoint.unet`); each one picks a graph variant. */
export interface UnetCallOptions {
  /** FreeU_V2 parameters; default none. */
  freeu?: FreeuParams;
  /** Fooocus inpaint-head feature [1 or B, model_channels, h, w], added after conv_in; default none. */
  inpaintFeature?: FloatTensor;
  /**
   * IP-Adapter image K/V per attn2 layer, [B, IPN, C_n], already weighted
   * (ipadapter/ipAdapterAttention.ts `ipAdapterUnetKv`); default none (and
   * null, no active image, runs the graph without them).
   */
  ipAdapter?: IpAdapterKv | null;
  /**
   * ControlNet residuals `control_0 … control_N` (skips, then the middle),
   * already scaled and summed over the active ControlNets
   * (controlnet/loadedControlLora.ts); default none (null runs without).
   */
  control?: readonly FloatTensor[] | null;
}

export interface LoadOptions {
  cacheDir: string;
  compute: ComputeType;
  session: SessionOptions;
  /** LoRA variants (sessions per LoRA set) kept open at once; default 2 (lora/loraVariants.ts). */
  maxLoadedVariants?: number;
  /**
   * Merged-weight precision (lora/mergeLoras.ts): default 'float32' for float32
   * graphs (the golden float32 merge), 'stored' (the checkpoint's dtype, rounded
   * as Fooocus does on a GPU) for float16 graphs.
   */
  loraPrecision?: ShardPrecision;
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
  private sessions = new SessionCache<GraphName>();
  /** Graphs this object built (not found in the cache); for tests and logs. */
  readonly builtGraphs: GraphName[] = [];
  clipL?: ClipConfig;
  clipG?: ClipConfig;
  /** On a LoRA variant: its shard and merge report (what was applied, skipped, unmatched); null on the checkpoint itself. */
  lora: LoraShard | null = null;
  private parent: LoadedCheckpoint | null = null;
  private shardFile: SafetensorsFile | null = null;
  private loraVariants: LoraVariants<LoadedCheckpoint> | undefined;

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

  /** The UNet's weights as this object's graphs read them (LoRA-merged on a variant), keys relative to `model.diffusion_model.`. */
  unetWeights(): WeightSource {
    return unetWeightsOf(this.weights);
  }

  /** Identity of this object's weights: the LoRA variant hash, else the checkpoint's content hash (a cache key for derived weights). */
  get weightsId(): string {
    return this.lora?.report.variant ?? this.contentHash;
  }

  get isRefiner(): boolean {
    return this.inspection.kind === 'sdxl_refiner';
  }

  computeOf(graph: GraphName): ComputeType {
    return ALWAYS_FP32.has(graph) ? 'float32' : this.opts.compute;
  }

  /**
   * Builds (or finds) every graph txt2img needs and opens its session. A
   * refiner only ever runs its UNet (Fooocus conditions it with the base's
   * text encoder and decodes with the base's VAE), so that is all it warms.
   */
  async warm(graphs: GraphName[] = this.isRefiner ? ['unet'] : ['clip_l', 'clip_g', 'unet', 'vae_decoder']): Promise<void> {
    await Promise.all(graphs.map((g) => this.session(g)));
  }

  /** Graphs whose session this object itself holds (borrowed ones not included); for tests and logs. */
  get openGraphs(): GraphName[] {
    return this.sessions.graphs();
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

  /**
   * `opts.freeu` runs the FreeU variant with those parameters, `opts.inpaintFeature`
   * the inpaint variant, `opts.ipAdapter` the IP-Adapter variant, `opts.control` the ControlNet variant (each
   * combination its own session); default the plain UNet.
   */
  async unet(x: FloatTensor, timesteps: Float32Array, context: FloatTensor, y: FloatTensor, opts: UnetCallOptions = {}): Promise<Float32Array> {
    const graph: UnetGraphName = `unet${opts.freeu ? '_freeu' : ''}${opts.inpaintFeature ? '_inpaint' : ''}${opts.ipAdapter ? '_ip' : ''}${opts.control ? '_control' : ''}`;
    const session = await this.session(graph);
    const feeds: Record<string, import('./onnxSession.ts').Feed> = {
      [UNET_IO.x]: { type: 'float', ...x },
      [UNET_IO.timesteps]: { type: 'float', data: timesteps, dims: [timesteps.length] },
    };
    if (opts.freeu) feeds[UNET_IO.freeu] = { type: 'float', data: freeuInput(opts.freeu), dims: [4] };
    if (opts.inpaintFeature) feeds[UNET_IO.inpaintFeature] = { type: 'float', ...opts.inpaintFeature };
    if (opts.ipAdapter) {
      const { k, v } = opts.ipAdapter;
      const layers = session.inputNames.filter((n) => n.startsWith('ip_k.')).length;
      if (k.length !== layers || v.length !== layers) {
        throw new RangeError(`IP-Adapter: ${k.length} K / ${v.length} V tensors for a UNet with ${layers} cross-attention layers`);
      }
      k.forEach((t, n) => (feeds[UNET_IP_INPUT.k(n)] = { type: 'float', ...t }));
      v.forEach((t, n) => (feeds[UNET_IP_INPUT.v(n)] = { type: 'float', ...t }));
    }
    if (opts.control) {
      const count = session.inputNames.filter((n) => n.startsWith('control_')).length;
      if (opts.control.length !== count) throw new RangeError(`ControlNet: ${opts.control.length} residuals for a UNet with ${count} control inputs`);
      opts.control.forEach((t, i) => (feeds[controlResidualName(i)] = { type: 'float', ...t }));
    }
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

  /**
   * This checkpoint with `loras` merged (Fooocus strengths, list order
   * irrelevant), opened or found among the open variants; the checkpoint
   * itself when the list changes nothing (empty, or all weights 0). Throws
   * LoraError for a missing or unreadable file. Skipped files and unmatched
   * tensors do not throw: see `lora.report`.
   */
  async withLoras(loras: readonly LoraRequest[]): Promise<LoadedCheckpoint> {
    if (this.parent) return this.parent.withLoras(loras);
    this.loraVariants ??= new LoraVariants<LoadedCheckpoint>({
      max: this.opts.maxLoadedVariants,
      cacheDir: this.opts.cacheDir,
      checkpoint: this.file,
      checkpointHash: this.contentHash,
      // CPU float32 graphs read an F32 shard (the golden float32 merge); fp16 graphs the stored dtype, rounded as Fooocus does.
      precision: this.opts.loraPrecision ?? (this.opts.compute === 'float32' ? 'float32' : 'stored'),
      keyMap: () => buildLoraKeyMap(this.weights, this.inspection),
      open: (shard) => this.openVariant(shard),
      close: (variant) => variant.close(),
    });
    return (await this.loraVariants.get(loras)) ?? this;
  }

  async close(): Promise<void> {
    await this.loraVariants?.close();
    await this.sessions.releaseAll();
    // A variant shares the checkpoint's file and owns only its shard.
    if (this.parent) this.shardFile?.close();
    else this.file.close();
  }

  session(graph: GraphName): Promise<ort.InferenceSession> {
    if (this.parent && !this.patches(graph)) return this.parent.session(graph);
    return this.sessions.get(graph, (g) => this.openSession(g));
  }

  private async openSession(graph: GraphName): Promise<ort.InferenceSession> {
    const compute = this.computeOf(graph);
    const dir = graphDir(this.opts.cacheDir, this.lora?.report.variant ?? this.contentHash, graph, compute);
    const cached = ensureGraph(dir, () => this.build(graph, compute));
    if (cached.built) this.builtGraphs.push(graph);
    return createSession(cached.modelPath, this.opts.session);
  }

  /** Whether this variant's LoRAs change the graph's weights (else the checkpoint's own session serves). */
  private patches(graph: GraphName): boolean {
    const part = loraGraphOf(graph);
    return part !== null && !!this.lora?.report.graphs.includes(part);
  }

  private openVariant(shard: LoraShard): LoadedCheckpoint {
    const shardFile = openSafetensors(shard.path);
    const weights = overlayWeights(this.weights, checkpointWeights(shardFile));
    const variant = new LoadedCheckpoint(this.path, this.contentHash, this.inspection, this.file, weights, this.opts);
    variant.parent = this;
    variant.shardFile = shardFile;
    variant.lora = shard;
    return variant;
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
      case 'vae_decoder':
        return buildVaeDecoderGraph({ weights, compute }).model;
      case 'vae_encoder':
        return buildVaeEncoderGraph({ weights, compute }).model;
      default:
        // Every UNet graph name: its suffixes are the variant's flags.
        return buildUnetGraph({ weights, compute, variant: unetVariantOf(graph) });
    }
  }
}

/** `unet_freeu_ip` → { freeu, ipAdapter }; the plain name gives no flags (the plain graph). */
function unetVariantOf(graph: UnetGraphName): UnetVariant {
  const flags = new Set(graph.split('_').slice(1));
  const variant: UnetVariant = {};
  if (flags.has('freeu')) variant.freeu = true;
  if (flags.has('inpaint')) variant.inpaintFeature = true;
  if (flags.has('ip')) variant.ipAdapter = true;
  if (flags.has('control')) variant.control = true;
  return variant;
}

/** The LoRA-patchable part a graph is built from (every UNet graph variant reads the UNet's weights); null for the VAE. */
function loraGraphOf(graph: GraphName): LoraGraph | null {
  if (graph.startsWith('unet')) return 'unet';
  return graph === 'clip_l' || graph === 'clip_g' ? graph : null;
}
