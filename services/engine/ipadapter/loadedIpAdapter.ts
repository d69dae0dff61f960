/**
 * The image-prompt models Fooocus loads for IP-Adapter Plus
 * (modules/config.py, extras/ip_adapter.py `load_ip_adapter`): the CLIP
 * vision tower, the adapter (Resampler + To_KV) and the precomputed negative
 * tokens, each graph built from the file's own shapes and cached like the
 * checkpoint's (runtime/graphCache.ts), one session each, opened lazily.
 *
 * `imagePrompt(image, weight, stop)` is Fooocus's `preprocess`: pixels →
 * penultimate CLIP state → Resampler tokens → per-layer K/V, plus the
 * negative tokens' K/V (computed once per adapter). The result is what
 * `ipAdapterUnetKv` weights per step for `LoadedCheckpoint.unet`.
 *
 * File formats: the adapter is Fooocus's torch pickle `.bin`
 * (`{'image_proj': …, 'ip_adapter': …}`, read by the restricted reader and
 * converted once into a safetensors shard, io/torchPickleShard.ts) or the
 * same tensors as `.safetensors`; the tower and the negative tokens are
 * safetensors. Mismatched files (a Resampler whose CLIP width is not the
 * tower's, negative tokens of another width) are refused at load with a
 * CheckpointError naming the file.
 */
import { closeSync, openSync, readSync } from 'node:fs';
import type * as ort from 'onnxruntime-node';
import { CheckpointError } from '../io/engineErrors.ts';
import { openSafetensors, type SafetensorsFile } from '../io/safetensors.ts';
import { torchPickleShard } from '../io/torchPickleShard.ts';
import type { ComputeType } from '../onnx/graphBuilder.ts';
import { checkpointWeights, prefixedWeights, type WeightSource } from '../onnx/weightSource.ts';
import { clipVisionConfigFromWeights, clipVisionPrefix, type ClipVisionConfig } from '../graphs/clipVisionConfig.ts';
import { buildClipVisionGraph, CLIP_VISION_IO } from '../graphs/clipVisionGraph.ts';
import { buildIpKvGraph, IP_KV_IO, IP_KV_PREFIX, ipKvConfigFromWeights, type IpKvConfig } from '../graphs/ipAdapterKvGraph.ts';
import { buildResamplerGraph, RESAMPLER_IO, RESAMPLER_PREFIX, resamplerConfigFromWeights, type ResamplerConfig } from '../graphs/resamplerGraph.ts';
import type { U8Image } from '../image/resampleLanczos.ts';
import { cachedFileSha256 } from '../runtime/contentHash.ts';
import { ensureGraph, graphDir } from '../runtime/graphCache.ts';
import type { FloatTensor } from '../runtime/loadedCheckpoint.ts';
import { createSession, runFloat, type SessionOptions } from '../runtime/onnxSession.ts';
import { SessionCache } from '../runtime/sessionCache.ts';
import { clipVisionPixels } from './clipVisionPixels.ts';
import type { IpAdapterImage, IpProjections } from './ipAdapterAttention.ts';

export interface IpAdapterFiles {
  /** `clip_vision_vit_h.safetensors`. */
  clipVision: string;
  /** `ip-adapter-plus_sdxl_vit-h.bin` (or the face variant; .bin or .safetensors). */
  ipAdapter: string;
  /** `fooocus_ip_negative.safetensors` (`data` [1, N, cross]). */
  negative: string;
}

export interface IpAdapterLoadOptions {
  cacheDir: string;
  /** Default 'float32'. */
  compute?: ComputeType;
  session: SessionOptions;
}

/** Everything one image prompt produces, intermediates included (the golden set checks them). */
export interface EncodedImagePrompt {
  /** The 224×224 stretched image and its normalised pixels [1, 3, S, S]. */
  image: U8Image;
  pixels: FloatTensor;
  /** CLIP vision `hidden_states[-2]` [1, positions, width]. */
  penultimate: FloatTensor;
  /** Resampler output [1, N, cross]. */
  tokens: FloatTensor;
  cond: IpProjections;
}

type IpGraph = 'clip_vision' | 'ip_resampler' | 'ip_kv';

/** Bump when one of these graphs' builders changes output (graphDir also carries GRAPH_BUILDER_VERSION). */
const IP_GRAPH_VERSION = 1;

export class LoadedIpAdapter {
  private readonly sessions = new SessionCache<IpGraph>();
  private negativeProjections: Promise<IpProjections> | undefined;

  private constructor(
    readonly files: IpAdapterFiles,
    readonly clipVisionConfig: ClipVisionConfig,
    readonly resamplerConfig: ResamplerConfig,
    readonly kvConfig: IpKvConfig,
    private readonly hashes: { clipVision: string; adapter: string },
    private readonly clipVisionWeights: WeightSource,
    private readonly adapterWeights: WeightSource,
    private readonly negativeTokens: FloatTensor,
    private readonly opened: SafetensorsFile[],
    private readonly opts: IpAdapterLoadOptions,
  ) {}

  static async load(files: IpAdapterFiles, opts: IpAdapterLoadOptions): Promise<LoadedIpAdapter> {
    const opened: SafetensorsFile[] = [];
    try {
      const cv = openSafetensors(files.clipVision);
      opened.push(cv);
      const clipVisionWeights = checkpointWeights(cv);
      const clipVisionConfig = clipVisionConfigFromWeights(prefixedWeights(clipVisionWeights, clipVisionPrefix(clipVisionWeights)));

      let adapterPath = files.ipAdapter;
      let adapterHash: string;
      if (isTorchPickle(files.ipAdapter)) {
        const shard = await torchPickleShard(files.ipAdapter, { cacheDir: opts.cacheDir, variant: 'ip_adapter' });
        adapterPath = shard.path;
        adapterHash = shard.contentHash;
      } else {
        adapterHash = await cachedFileSha256(files.ipAdapter, opts.cacheDir);
      }
      const af = openSafetensors(adapterPath);
      opened.push(af);
      const adapterWeights = named(checkpointWeights(af), files.ipAdapter);
      const resamplerConfig = resamplerConfigFromWeights(prefixedWeights(adapterWeights, RESAMPLER_PREFIX));
      const kvConfig = ipKvConfigFromWeights(prefixedWeights(adapterWeights, IP_KV_PREFIX));
      if (resamplerConfig.embeddingDim !== clipVisionConfig.width) {
        throw new CheckpointError(files.ipAdapter, 'bad_shape', `IP-Adapter Resampler reads ${resamplerConfig.embeddingDim}-wide CLIP states, ${files.clipVision} is ${clipVisionConfig.width} wide`);
      }
      if (resamplerConfig.outputDim !== kvConfig.crossDim) {
        throw new CheckpointError(files.ipAdapter, 'bad_shape', `IP-Adapter Resampler gives ${resamplerConfig.outputDim}-wide tokens, its K/V take ${kvConfig.crossDim}`);
      }

      const nf = openSafetensors(files.negative);
      let negativeTokens: FloatTensor;
      try {
        if (!nf.has('data')) throw new CheckpointError(files.negative, 'missing_tensor', 'IP-Adapter negative: tensor data is missing');
        const dims = nf.info('data').shape;
        if (dims.length !== 3 || dims[2] !== kvConfig.crossDim) {
          throw new CheckpointError(files.negative, 'bad_shape', `IP-Adapter negative: data is [${dims.join(', ')}], expected [1, N, ${kvConfig.crossDim}]`);
        }
        negativeTokens = { data: nf.float32('data'), dims };
      } finally {
        nf.close();
      }
      const clipVisionHash = await cachedFileSha256(files.clipVision, opts.cacheDir);
      return new LoadedIpAdapter(files, clipVisionConfig, resamplerConfig, kvConfig, { clipVision: clipVisionHash, adapter: adapterHash },
        clipVisionWeights, adapterWeights, negativeTokens, opened, opts);
    } catch (e) {
      for (const f of opened) f.close();
      throw e;
    }
  }

  get compute(): ComputeType {
    return this.opts.compute ?? 'float32';
  }

  /** Number of attn2 layers the adapter serves (70 for SDXL). */
  get layers(): number {
    return this.kvConfig.layers.length;
  }

  /** Fooocus `preprocess` for one image, with its intermediates. */
  async encode(image: U8Image): Promise<EncodedImagePrompt> {
    const prepared = clipVisionPixels(image, this.clipVisionConfig.imageSize);
    const penultimate = await this.clipVision(prepared.pixels);
    const tokens = await this.resample(penultimate);
    return { image: prepared.image, pixels: prepared.pixels, penultimate, tokens, cond: await this.project(tokens) };
  }

  /** One image prompt ready for `ipAdapterUnetKv`. */
  async imagePrompt(image: U8Image, weight: number, stop: number): Promise<IpAdapterImage> {
    const { cond } = await this.encode(image);
    return { cond, uncond: await this.negative(), weight, stop };
  }

  /** CLIP vision `hidden_states[-2]` of normalised pixels [B, 3, S, S]. */
  async clipVision(pixels: FloatTensor): Promise<FloatTensor> {
    const out = await runFloat(await this.session('clip_vision'), 'float32', { [CLIP_VISION_IO.pixels]: { type: 'float', ...pixels } }, [CLIP_VISION_IO.penultimate]);
    return out[CLIP_VISION_IO.penultimate];
  }

  /** Resampler: CLIP states [B, T, width] → image tokens [B, N, cross]. */
  async resample(hidden: FloatTensor): Promise<FloatTensor> {
    const out = await runFloat(await this.session('ip_resampler'), 'float32', { [RESAMPLER_IO.image]: { type: 'float', ...hidden } });
    return out[RESAMPLER_IO.tokens];
  }

  /** To_KV: tokens [1, N, cross] → per-layer raw k, v. */
  async project(tokens: FloatTensor): Promise<IpProjections> {
    const out = await runFloat(await this.session('ip_kv'), 'float32', { [IP_KV_IO.tokens]: { type: 'float', ...tokens } });
    const k: FloatTensor[] = [];
    const v: FloatTensor[] = [];
    for (let n = 0; n < this.layers; n++) {
      k.push(out[IP_KV_IO.k(n)]);
      v.push(out[IP_KV_IO.v(n)]);
    }
    return { k, v };
  }

  /** The negative tokens' projections (Fooocus's `ip_unconds`), computed once. */
  negative(): Promise<IpProjections> {
    this.negativeProjections ??= this.project(this.negativeTokens);
    return this.negativeProjections;
  }

  async close(): Promise<void> {
    await this.sessions.releaseAll();
    for (const f of this.opened) f.close();
  }

  private session(graph: IpGraph): Promise<ort.InferenceSession> {
    return this.sessions.get(graph, async (g) => {
      const compute = this.compute;
      const hash = g === 'clip_vision' ? this.hashes.clipVision : this.hashes.adapter;
      const dir = graphDir(this.opts.cacheDir, hash, `${g}.${IP_GRAPH_VERSION}`, compute);
      const cached = ensureGraph(dir, () => {
        if (g === 'clip_vision') return buildClipVisionGraph({ weights: this.clipVisionWeights, config: this.clipVisionConfig, compute }).model;
        if (g === 'ip_resampler') return buildResamplerGraph({ weights: this.adapterWeights, config: this.resamplerConfig, compute }).model;
        return buildIpKvGraph({ weights: this.adapterWeights, config: this.kvConfig, compute }).model;
      });
      return createSession(cached.modelPath, this.opts.session);
    });
  }
}

/** A source reporting errors under the user's file name (the shard is an implementation detail). */
function named(source: WeightSource, name: string): WeightSource {
  return { name, has: (k) => source.has(k), ref: (k) => source.ref(k), keys: () => source.keys() };
}

/** A torch zip ('PK') or legacy pickle (0x80); anything else goes to the safetensors reader, which checks its header. */
function isTorchPickle(path: string): boolean {
  let fd: number;
  try {
    fd = openSync(path, 'r');
  } catch (e) {
    throw new CheckpointError(path, 'not_found', (e as Error).message, { cause: e });
  }
  try {
    const head = Buffer.alloc(2);
    const n = readSync(fd, head, 0, 2, 0);
    return n === 2 && ((head[0] === 0x50 && head[1] === 0x4b) || head[0] === 0x80);
  } finally {
    closeSync(fd);
  }
}
