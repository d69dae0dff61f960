/**
 * The weights of a Control-LoRA's ControlNet (SAI's format, ComfyUI
 * `ControlLora.pre_run`, pipeline.md §3.7): the CURRENT base UNet's encoder
 * (time/label embeddings, input blocks, middle block), overwritten by every
 * full tensor of the file (hint block, zero convs, middle_block_out and a few
 * norms/biases), with `W + up.flatten(1) @ down.flatten(1)` for each module
 * the file carries a `{module}.up` / `{module}.down` pair for (ComfyUI's
 * ControlLoraOps add the product at forward time; merging once is the same
 * weight).
 *
 * Why an overlay: the full tensors are read in place from the Control-LoRA
 * file and the untouched encoder weights from the checkpoint (or its LoRA
 * shard), exactly as the UNet graph reads them; only the low-rank modules
 * are materialised, into a small shard under the cache (keyed by the base
 * weights, the file's content and the precision), so a second load reads it
 * back instead of merging again. The architecture comes from the shapes; the
 * graph (graphs/controlNetGraph.ts) never sees which file it came from.
 */
import { closeSync, existsSync, mkdirSync, openSync, readSync } from 'node:fs';
import { createHash } from 'node:crypto';
import { join } from 'node:path';
import { CheckpointError } from '../io/engineErrors.ts';
import { openSafetensors, tensorDataView, toFloat32, type SafetensorsFile } from '../io/safetensors.ts';
import { writeSafetensorsFileAsync } from '../io/safetensorsWriter.ts';
import { float32ToHalfBits, halfBitsToFloat32, tensorFloat32 } from '../lora/float16Arrays.ts';
import { createLowRankUpdater, type LowRankUpdater } from '../lora/lowRankUpdate.ts';
import { checkpointWeights, overlayWeights, type WeightRef, type WeightSource } from '../onnx/weightSource.ts';

/** The key every SAI Control-LoRA carries (its value is ignored). */
export const CONTROL_LORA_MARKER = 'lora_controlnet';

/** Bump when the shard's contents change for the same inputs. */
export const CONTROL_LORA_MERGE_VERSION = 1;

/** 'float32': merged weights stored as F32 (the float32 golden merge); 'stored': rounded to the base weight's dtype (fp16 graphs, as Fooocus on a GPU). */
export type ControlLoraPrecision = 'float32' | 'stored';

export interface ControlLoraContents {
  /** Full tensors by ControlNet key (hint block, zero convs, middle_block_out, overrides). */
  full: string[];
  /** Modules (`input_blocks.1.0.in_layers.2`) with an up/down pair; their weight is `{module}.weight`. */
  lowRank: string[];
}

/** Sorts a Control-LoRA's keys; throws CheckpointError when the marker or a pair's half is missing. */
export function controlLoraContents(file: Pick<SafetensorsFile, 'path' | 'tensors'>): ControlLoraContents {
  const keys = [...file.tensors.keys()];
  if (!keys.includes(CONTROL_LORA_MARKER)) {
    throw new CheckpointError(file.path, 'unsupported_architecture', `not a Control-LoRA: no ${CONTROL_LORA_MARKER} key`);
  }
  const full: string[] = [];
  const lowRank: string[] = [];
  for (const k of keys) {
    if (k === CONTROL_LORA_MARKER) continue;
    if (k.endsWith('.up')) {
      const module = k.slice(0, -'.up'.length);
      if (!file.tensors.has(`${module}.down`)) throw new CheckpointError(file.path, 'missing_tensor', `${module}.up has no ${module}.down`);
      lowRank.push(module);
    } else if (k.endsWith('.down')) {
      if (!file.tensors.has(`${k.slice(0, -'.down'.length)}.up`)) throw new CheckpointError(file.path, 'missing_tensor', `${k} has no matching .up`);
    } else {
      full.push(k);
    }
  }
  return { full, lowRank };
}

/** A weight's values as float32, read from its file range (F16 exactly through the half table). */
export function readWeightFloat32(ref: WeightRef): Float32Array {
  const buf = Buffer.alloc(ref.byteLength);
  const fd = openSync(ref.file, 'r');
  try {
    let done = 0;
    while (done < ref.byteLength) {
      const n = readSync(fd, buf, done, ref.byteLength - done, ref.offset + done);
      if (n <= 0) throw new CheckpointError(ref.file, 'truncated', `${ref.key}: file ends inside the tensor`);
      done += n;
    }
  } finally {
    closeSync(fd);
  }
  const bytes = new Uint8Array(buf.buffer, buf.byteOffset, buf.byteLength);
  const data = tensorDataView(ref.dtype, bytes);
  return ref.dtype === 'F16' ? halfBitsToFloat32(data as Uint16Array) : toFloat32(ref.dtype, data);
}

const product = (s: readonly number[]) => s.reduce((a, b) => a * b, 1);

export interface MergeControlLoraOptions {
  /** The base UNet's weights, keys relative to `model.diffusion_model.` (LoadedCheckpoint.unetWeights()). */
  base: WeightSource;
  file: SafetensorsFile;
  /** Where the merged low-rank modules are written (a .safetensors path). */
  shardPath: string;
  /** Default 'float32'. */
  precision?: ControlLoraPrecision;
  /** Default: an ORT GEMM updater (lora/lowRankUpdate.ts), released afterwards. */
  updater?: LowRankUpdater;
}

/**
 * Writes `{module}.weight = (full override ?? base) + up.flatten(1) @ down.flatten(1)`
 * for every low-rank module, float32 arithmetic as torch.mm. Throws
 * CheckpointError when the base lacks a module or the shapes disagree.
 */
export async function mergeControlLora(opts: MergeControlLoraOptions): Promise<void> {
  const { base, file } = opts;
  const contents = controlLoraContents(file);
  const fileWeights = checkpointWeights(file);
  const own = opts.updater === undefined;
  const updater = opts.updater ?? (await createLowRankUpdater());
  try {
    const tensors = contents.lowRank.map((module) => {
      const key = `${module}.weight`;
      const source = fileWeights.has(key) ? fileWeights : base;
      if (!source.has(key)) throw new CheckpointError(file.path, 'missing_tensor', `${module}: the base UNet has no ${key} to add the low-rank update to`);
      const ref = source.ref(key);
      const up = file.tensors.get(`${module}.up`)!;
      const down = file.tensors.get(`${module}.down`)!;
      const m = up.shape[0];
      const r = product(up.shape.slice(1));
      const n = product(down.shape.slice(1));
      if (down.shape[0] !== r || m !== ref.shape[0] || m * n !== product(ref.shape)) {
        throw new CheckpointError(file.path, 'bad_shape', `${module}: up [${up.shape}] @ down [${down.shape}] does not fit the weight [${ref.shape}]`);
      }
      const dtype = opts.precision === 'stored' ? ref.dtype : 'F32';
      if (dtype !== 'F32' && dtype !== 'F16') throw new CheckpointError(file.path, 'unsupported_architecture', `${key}: cannot store a merged ${ref.dtype} weight`);
      return {
        name: key,
        dtype,
        shape: ref.shape,
        bytes: async () => {
          const w = readWeightFloat32(ref);
          await updater.add(w, tensorFloat32(file, `${module}.up`), tensorFloat32(file, `${module}.down`), m, r, n, 1);
          return dtype === 'F16' ? new Uint8Array(float32ToHalfBits(w).buffer) : new Uint8Array(w.buffer);
        },
      } as const;
    });
    await writeSafetensorsFileAsync(opts.shardPath, tensors, { note: 'fooocus-cloud Control-LoRA merge', version: String(CONTROL_LORA_MERGE_VERSION) });
  } finally {
    if (own) await updater.release();
  }
}

export interface ControlLoraWeights {
  /** The ControlNet's weights by ControlNet key: base encoder ← full tensors ← merged modules. */
  weights: WeightSource;
  contents: ControlLoraContents;
  /** Identity of these weights (base id + file hash + precision), the graph cache key. */
  id: string;
  /** Close the shard (the caller owns the Control-LoRA file). */
  close(): void;
}

export interface EnsureControlLoraWeightsOptions {
  base: WeightSource;
  /** Identity of the base weights (checkpoint content hash or LoRA variant hash). */
  baseId: string;
  file: SafetensorsFile;
  /** sha256 of the Control-LoRA file. */
  fileHash: string;
  cacheDir: string;
  precision?: ControlLoraPrecision;
}

/** The merged shard from the cache (merging it first when absent) and the overlay over it. */
export async function ensureControlLoraWeights(opts: EnsureControlLoraWeightsOptions): Promise<ControlLoraWeights> {
  const precision = opts.precision ?? 'float32';
  const id = createHash('sha256').update(`controllora-v${CONTROL_LORA_MERGE_VERSION}\0${opts.baseId}\0${opts.fileHash}\0${precision}`).digest('hex');
  const dir = join(opts.cacheDir, 'controlnet');
  mkdirSync(dir, { recursive: true });
  const shardPath = join(dir, `${id.slice(0, 32)}.safetensors`);
  const contents = controlLoraContents(opts.file);
  if (!existsSync(shardPath)) await mergeControlLora({ base: opts.base, file: opts.file, shardPath, precision });
  const shard = openSafetensors(shardPath);
  const full = checkpointWeights(opts.file);
  const fullKeys = new Set(contents.full);
  const fullOnly: WeightSource = {
    name: full.name,
    has: (k) => fullKeys.has(k),
    ref: (k) => full.ref(k),
    keys: () => contents.full,
  };
  const weights = overlayWeights(overlayWeights(opts.base, fullOnly), checkpointWeights(shard));
  return { weights, contents, id, close: () => shard.close() };
}
