/**
 * Fooocus's upscaler ready to run: the ESRGAN file read and checked
 * (esrganConfig.ts), its RRDBNet graph (esrganGraph.ts) built once and cached
 * on disk by the model file's content hash, one ORT session opened on first
 * use, and perform_upscale's tiling around it (tiledUpscale.ts).
 *
 * Files: `fooocus_upscaler_s409985e5.bin` is a torch zip pickle; it is
 * converted once into a safetensors shard in the cache (torchPickleShard),
 * because ONNX external data must point at plain byte ranges. A
 * `.safetensors` with the same keys is used in place. Which of the two a
 * file is comes from its first bytes, not its name. Keys are renamed as
 * Fooocus does (`residual_block_` → `RDB`) through the WeightSource, so the
 * graph names its initializers by the renamed keys whatever the file says.
 *
 * Compute: float32 by default; float16 (GPU providers) keeps the file's F16
 * weights — Fooocus itself runs this model in fp16 on a GPU.
 */
import { closeSync, openSync, readSync } from 'node:fs';
import type * as ort from 'onnxruntime-node';
import { CheckpointError } from '../io/engineErrors.ts';
import { openSafetensors, type SafetensorsFile } from '../io/safetensors.ts';
import { torchPickleShard } from '../io/torchPickleShard.ts';
import type { ComputeType } from '../onnx/graphBuilder.ts';
import { checkpointWeights, type WeightSource } from '../onnx/weightSource.ts';
import { cachedFileSha256 } from '../runtime/contentHash.ts';
import { ensureGraph, graphDir } from '../runtime/graphCache.ts';
import { createSession, runFloat, type SessionOptions } from '../runtime/onnxSession.ts';
import { SessionCache } from '../runtime/sessionCache.ts';
import { esrganConfigFromShapes, esrganKeyMap, type EsrganConfig } from './esrganConfig.ts';
import { buildEsrganGraph, ESRGAN_INPUT, ESRGAN_OUTPUT } from './esrganGraph.ts';
import { tiledUpscale, unitToRgb8, type FloatRgbImage, type RgbImage, type Tile } from './tiledUpscale.ts';

/** Part of the graph cache key; bump when buildEsrganGraph's output changes. */
const ESRGAN_GRAPH_VERSION = 1;

export interface UpscalerLoadOptions {
  /** Graph cache and pickle shards live here. */
  cacheDir: string;
  /** Graph precision; default 'float32'. */
  compute?: ComputeType;
  session: SessionOptions;
}

export interface UpscaleOptions {
  /** Checked before every tile; an aborted signal throws its reason (EngineAbortedError by default). */
  signal?: AbortSignal;
  /** Progress after each tile: (done, total). */
  onTile?: (done: number, total: number) => void;
  /** Tile side in input pixels; default 512 as Fooocus (halved on out-of-memory). */
  tile?: number;
}

export class LoadedUpscaler {
  private readonly sessions = new SessionCache<'esrgan'>();

  private constructor(
    readonly path: string,
    /** sha256 of the model file (the graph cache key). */
    readonly contentHash: string,
    readonly config: EsrganConfig,
    readonly compute: ComputeType,
    private readonly file: SafetensorsFile,
    private readonly weights: WeightSource,
    private readonly opts: UpscalerLoadOptions,
  ) {}

  /** Reads and checks the model (CheckpointError naming `path` when it is not a supported ESRGAN); the session opens on first use. */
  static async load(path: string, opts: UpscalerLoadOptions): Promise<LoadedUpscaler> {
    const format = sniffFormat(path);
    let weightsPath = path;
    let contentHash: string;
    if (format === 'torch') {
      const shard = await torchPickleShard(path, { cacheDir: opts.cacheDir, variant: 'esrgan' });
      weightsPath = shard.path;
      contentHash = shard.contentHash;
    } else {
      contentHash = await cachedFileSha256(path, opts.cacheDir);
    }
    const file = openSafetensors(weightsPath);
    try {
      const weights = renamedWeights(checkpointWeights(file), path);
      const config = esrganConfigFromShapes({ has: (k) => weights.has(k), shape: (k) => weights.ref(k).shape, keys: () => weights.keys() }, path);
      return new LoadedUpscaler(path, contentHash, config, opts.compute ?? 'float32', file, weights, opts);
    } catch (e) {
      file.close();
      throw e;
    }
  }

  /** perform_upscale: 8-bit RGB in, 8-bit RGB `scale`× larger out. */
  async upscale(pixels: RgbImage, opts: UpscaleOptions = {}): Promise<RgbImage> {
    return unitToRgb8(await this.upscaleFloat(pixels, opts));
  }

  /** perform_upscale before the 8-bit conversion: HWC float32 in [0,1]. */
  async upscaleFloat(pixels: RgbImage, opts: UpscaleOptions = {}): Promise<FloatRgbImage> {
    const session = await this.session();
    const runTile = async (tile: Tile): Promise<Float32Array> => {
      const out = await runFloat(session, this.compute, { [ESRGAN_INPUT]: { type: 'float', data: tile.data, dims: [1, 3, tile.height, tile.width] } });
      return out[ESRGAN_OUTPUT].data;
    };
    return tiledUpscale(pixels, runTile, { scale: this.config.scale, tile: opts.tile, signal: opts.signal, onTile: opts.onTile });
  }

  async close(): Promise<void> {
    await this.sessions.releaseAll();
    this.file.close();
  }

  private session(): Promise<ort.InferenceSession> {
    return this.sessions.get('esrgan', async () => {
      const dir = graphDir(this.opts.cacheDir, this.contentHash, `esrgan.${ESRGAN_GRAPH_VERSION}`, this.compute);
      const cached = ensureGraph(dir, () => buildEsrganGraph({ weights: this.weights, config: this.config, compute: this.compute }));
      return createSession(cached.modelPath, this.opts.session);
    });
  }
}

/** The stored tensors under Fooocus's renamed keys; `name` (the user's file, not the shard) goes into errors. */
function renamedWeights(source: WeightSource, name: string): WeightSource {
  const map = esrganKeyMap(source.keys());
  return {
    name,
    has: (key) => map.has(key),
    ref: (key) => {
      const stored = map.get(key);
      if (stored === undefined) throw new CheckpointError(name, 'missing_tensor', `tensor ${key} is missing`);
      return { ...source.ref(stored), key };
    },
    keys: () => map.keys(),
  };
}

/** 'torch' for a zip archive ('PK') or a legacy pickle (0x80 protocol byte), else 'safetensors' (whose reader checks the header). */
function sniffFormat(path: string): 'torch' | 'safetensors' {
  let fd: number;
  try {
    fd = openSync(path, 'r');
  } catch (e) {
    throw new CheckpointError(path, 'not_found', (e as Error).message, { cause: e });
  }
  try {
    const head = Buffer.alloc(4);
    const n = readSync(fd, head, 0, 4, 0);
    if (n < 4) throw new CheckpointError(path, 'truncated', `${n} bytes: not a model file`);
    if (head[0] === 0x50 && head[1] === 0x4b) return 'torch';
    if (head[0] === 0x80) return 'torch';
    return 'safetensors';
  } finally {
    closeSync(fd);
  }
}
