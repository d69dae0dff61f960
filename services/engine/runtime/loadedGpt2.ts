/**
 * A GPT-2 ready to run: config, weights as a safetensors WeightSource, the
 * KV-cache graph (`gpt2Graph.ts`) built once and cached on disk by the
 * weights' content hash, one ORT session.
 *
 * Weights: `pytorch_model.bin` (a torch pickle, what Fooocus ships) is
 * converted once into a safetensors shard in the cache (`torchPickleShard`,
 * mask buffers and the tied head left out); a `model.safetensors` is used in
 * place. Keys may carry GPT2LMHeadModel's `transformer.` prefix or not (the
 * original `gpt2` files lack it); both are accepted.
 *
 * The KV cache stays as ORT tensors between steps (`Gpt2Past`): outputs of
 * one run are handed back as inputs of the next without a round trip through
 * float32 arrays.
 */
import { readFileSync } from 'node:fs';
import * as ort from 'onnxruntime-node';
import { buildGpt2Graph, gpt2ConfigFromJson, GPT2_IO, GPT2_KEYS, isGpt2Buffer, type Gpt2Config } from '../graphs/gpt2Graph.ts';
import { CheckpointError, EngineInputError } from '../io/engineErrors.ts';
import { openSafetensors, type SafetensorsFile } from '../io/safetensors.ts';
import { torchPickleShard } from '../io/torchPickleShard.ts';
import type { ComputeType } from '../onnx/graphBuilder.ts';
import { checkpointWeights, type WeightSource } from '../onnx/weightSource.ts';
import { cachedFileSha256 } from './contentHash.ts';
import { ensureGraph, graphDir } from './graphCache.ts';
import { createSession, tensorToFloat32, type SessionOptions } from './onnxSession.ts';

/** Part of the graph cache key; bump when buildGpt2Graph's output changes. */
const GPT2_GRAPH_VERSION = 1;

export interface LoadGpt2Options {
  /** `pytorch_model.bin` (torch pickle) or `model.safetensors`. */
  weightsPath: string;
  configPath: string;
  cacheDir: string;
  /** Default 'float32'. */
  compute?: ComputeType;
  session: SessionOptions;
}

/** The KV cache after some tokens: per layer key and value, [B,H,length,D]. */
export interface Gpt2Past {
  length: number;
  batch: number;
  /** key0, value0, key1, value1, … */
  tensors: ort.Tensor[];
}

export interface Gpt2Step {
  /** [B,T,V] float32. */
  logits: Float32Array;
  dims: [number, number, number];
  present: Gpt2Past;
}

export class LoadedGpt2 {
  private constructor(
    readonly config: Gpt2Config,
    readonly compute: ComputeType,
    /** True when this load built the graph (false: found in the cache). */
    readonly builtGraph: boolean,
    private readonly file: SafetensorsFile,
    private readonly session: ort.InferenceSession,
  ) {}

  static async load(opts: LoadGpt2Options): Promise<LoadedGpt2> {
    const compute = opts.compute ?? 'float32';
    const config = gpt2ConfigFromJson(readJson(opts.configPath), opts.configPath);
    let shardPath: string;
    let contentHash: string;
    if (opts.weightsPath.endsWith('.safetensors')) {
      shardPath = opts.weightsPath;
      contentHash = await cachedFileSha256(opts.weightsPath, opts.cacheDir);
    } else {
      const shard = await torchPickleShard(opts.weightsPath, {
        cacheDir: opts.cacheDir,
        variant: 'gpt2',
        keep: (key) => !isGpt2Buffer(key) && !(config.tiedLmHead && key === GPT2_KEYS.lmHead),
      });
      shardPath = shard.path;
      contentHash = shard.contentHash;
    }
    const file = openSafetensors(shardPath);
    try {
      const weights = withTransformerPrefix(checkpointWeights(file));
      const dir = graphDir(opts.cacheDir, contentHash, `gpt2.${GPT2_GRAPH_VERSION}`, compute);
      const cached = ensureGraph(dir, () => buildGpt2Graph({ weights, config, compute }));
      const session = await createSession(cached.modelPath, opts.session);
      return new LoadedGpt2(config, compute, cached.built, file, session);
    } catch (e) {
      file.close();
      throw e;
    }
  }

  /** The cache before any token (length 0). */
  emptyPast(batch = 1): Gpt2Past {
    const { heads, headDim, layers } = this.config;
    const dims = [batch, heads, 0, headDim];
    const empty = () => (this.compute === 'float16' ? new ort.Tensor('float16', new Uint16Array(0), dims) : new ort.Tensor('float32', new Float32Array(0), dims));
    return { length: 0, batch, tensors: Array.from({ length: 2 * layers }, empty) };
  }

  /** Runs `ids` ([batch, T] row-major) after `past`; returns their logits and the extended cache. */
  async forward(ids: ArrayLike<number>, batch = 1, past: Gpt2Past = this.emptyPast(batch)): Promise<Gpt2Step> {
    const T = ids.length / batch;
    if (!Number.isInteger(T) || T < 1) throw new EngineInputError(`GPT-2: ${ids.length} ids do not split into ${batch} rows`);
    if (past.batch !== batch) throw new EngineInputError(`GPT-2: cache of batch ${past.batch} used with batch ${batch}`);
    if (past.length + T > this.config.positions) {
      throw new EngineInputError(`GPT-2: ${past.length + T} tokens exceed the model's ${this.config.positions} positions`);
    }
    const feeds: Record<string, ort.Tensor> = {
      [GPT2_IO.inputIds]: new ort.Tensor('int64', BigInt64Array.from(Array.from(ids, (v) => BigInt(v))), [batch, T]),
    };
    for (let i = 0; i < this.config.layers; i++) {
      feeds[GPT2_IO.pastKey(i)] = past.tensors[2 * i];
      feeds[GPT2_IO.pastValue(i)] = past.tensors[2 * i + 1];
    }
    const out = await this.session.run(feeds);
    const tensors: ort.Tensor[] = [];
    for (let i = 0; i < this.config.layers; i++) tensors.push(out[GPT2_IO.presentKey(i)], out[GPT2_IO.presentValue(i)]);
    const logits = out[GPT2_IO.logits];
    return {
      logits: tensorToFloat32(logits),
      dims: [batch, T, this.config.vocab],
      present: { length: past.length + T, batch, tensors },
    };
  }

  async close(): Promise<void> {
    await this.session.release();
    this.file.close();
  }
}

/** GPT2LMHeadModel keys (`transformer.h.0…`) over a file that may store GPT2Model keys (`h.0…`). */
function withTransformerPrefix(source: WeightSource): WeightSource {
  if (source.has(GPT2_KEYS.wte) || !source.has('wte.weight')) return source;
  const strip = (key: string) => (key.startsWith('transformer.') ? key.slice('transformer.'.length) : key);
  return {
    name: source.name,
    has: (key) => source.has(strip(key)),
    ref: (key) => ({ ...source.ref(strip(key)), key }),
    *keys() {
      for (const k of source.keys()) yield k === 'lm_head.weight' ? k : `transformer.${k}`;
    },
  };
}

function readJson(path: string): Record<string, unknown> {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (e) {
    throw new CheckpointError(path, 'not_found', (e as Error).message, { cause: e });
  }
  try {
    const v = JSON.parse(text) as unknown;
    if (!v || typeof v !== 'object' || Array.isArray(v)) throw new Error('not an object');
    return v as Record<string, unknown>;
  } catch (e) {
    throw new CheckpointError(path, 'bad_header', `not a JSON object: ${(e as Error).message}`, { cause: e });
  }
}
