/**
 * LoRA merge into one weight shard (pipeline.md §5.2 option (a)): the
 * checkpoint's weights stay where they are, and the tensors a LoRA set
 * changes are written, merged, into one `.safetensors` shard in the cache.
 * Graphs for the set are then built from `overlayWeights(checkpoint, shard)`,
 * so only patched initializers point into the shard.
 *
 * Fooocus rules (golden-features README §1, F `modules/core.py` refresh_loras):
 *  - per file: match (loraFile.ts); more than 12 unmatched tensors → the
 *    file is skipped entirely; fewer are ignored;
 *  - per weight: W (upcast to float32) += strength·ΔW for every patch of
 *    every file in turn (loraDelta.ts), then one cast to the stored type.
 *  - a weight of 0 changes nothing and is dropped before anything is read.
 * What Fooocus only prints is reported here (LoraMergeReport): skipped files,
 * files that matched nothing, unmatched tensor names, shape mismatches.
 *
 * The shard is keyed by sha256(checkpoint content hash, precision, merge
 * version, the (LoRA content hash, weight) list sorted), so renaming or
 * reordering LoRAs reuses it, and merging happens in that sorted order so a
 * shard's bytes depend on its key alone. (Fooocus adds in request order;
 * float32 addition order changes a weight by at most an ulp, and only GLoRA,
 * which reads W, could tell the orders apart.) The report travels in the
 * shard's own metadata, so a cache hit reports exactly what the merge did.
 *
 * Precision of the shard: 'stored' keeps each tensor's checkpoint dtype (the
 * fp16 rounding Fooocus applies on a GPU: merge in fp32, cast back), used for
 * fp16 graphs; 'float32' writes F32, used for CPU float32 graphs, where the
 * golden set's float32 expectations are computed from the unrounded merge.
 * Measured on `cases/lora.safetensors` with CPU float32 graphs: an F16 shard
 * puts UNet eps off by up to 3.2e-3 (a07_b05) and CLIP context by 2.4e-3
 * (a_m1), against 1e-4 allowed; the F32 shard stays at ≤ 4.3e-6 everywhere
 * and its merged weights at ≤ 3e-8 (the float64 merge's own distance). The
 * price is disk: an F32 shard is twice the F16 one (an SDXL LoRA touching
 * every transformer linear: ~8 GB instead of ~4 GB). Shards are not evicted.
 *
 * Cost: the plain LoRA products go to onnxruntime's CPU GEMM
 * (lowRankUpdate.ts); the rest of a merge is reading and converting the
 * patched weights and writing the shard, one tensor in memory at a time.
 */
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { EngineInputError } from '../io/engineErrors.ts';
import type { SafetensorsDtype, SafetensorsFile } from '../io/safetensors.ts';
import { openSafetensors } from '../io/safetensors.ts';
import { writeSafetensorsFileAsync, type TensorToWriteAsync } from '../io/safetensorsWriter.ts';
import { cachedFileSha256 } from '../runtime/contentHash.ts';
import { float32ToHalfBits, tensorFloat32 } from './float16Arrays.ts';
import { addPatchDelta, addScaledProduct, deltaShapeError, loraFactors, stackFactors, type LoraTensor, type LowRankFactors } from './loraDelta.ts';
import { createLowRankUpdater, type LowRankUpdater } from './lowRankUpdate.ts';
import { LoraError } from './loraErrors.ts';
import { formatHints, matchLora, openLoraFile, type LoraPatch, type LoraPatchKind, type LoraTensors } from './loraFile.ts';
import type { LoraGraph, LoraKeyMap, TensorSlice } from './loraKeyMap.ts';

/** One LoRA of a request: a file and its strength (Fooocus applies the same strength to UNet and CLIP). */
export interface LoraRequest {
  path: string;
  weight: number;
}

/** A request after its file was found and hashed. */
export interface ResolvedLora {
  /** Absolute path. */
  path: string;
  weight: number;
  sha256: string;
}

export type ShardPrecision = 'float32' | 'stored';

/** Bump when the merge's output changes for the same inputs. */
export const LORA_MERGE_VERSION = 1;

/** Fooocus skips a LoRA file when more than this many of its tensors match nothing (core.py). */
export const MAX_UNMATCHED_TENSORS = 12;

/** Unmatched tensor names kept in a report (a file for another model has thousands). */
const MAX_NAMES_REPORTED = 20;

export type LoraFileStatus = 'applied' | 'skipped_mismatch' | 'no_match';

export interface LoraFileReport {
  path: string;
  weight: number;
  sha256: string;
  /** applied: patches merged; skipped_mismatch: > 12 unmatched tensors, nothing applied; no_match: nothing matched. */
  status: LoraFileStatus;
  /** Fooocus-internal keys this file patches, per model (CLIP-G q/k/v count as three). */
  patched: { unet: number; clip: number };
  /** Patches per format. */
  kinds: Partial<Record<LoraPatchKind, number>>;
  unmatchedCount: number;
  /** The first unmatched tensor names. */
  unmatched: string[];
  /** Patches not applied because ΔW does not fit the weight (Fooocus prints "ERROR" and goes on). */
  shapeMismatches: string[];
  /** Hints on why tensors went unmatched (PEFT names, DoRA, another architecture). */
  hints: string[];
}

export interface LoraMergeReport {
  /** Hash keying the shard, its graphs and its sessions. */
  variant: string;
  precision: ShardPrecision;
  files: LoraFileReport[];
  /** Distinct Fooocus-internal keys patched by the whole set (the golden `*_patched_keys`). */
  patched: { unet: number; clip: number };
  /** Checkpoint tensors written to the shard. */
  tensors: number;
  /** Graphs whose weights changed. */
  graphs: LoraGraph[];
  /** One line per thing a user should know (skipped file, no match, shape mismatch). */
  warnings: string[];
  /** Merge time (of the run that wrote the shard). */
  seconds: number;
}

export interface LoraShard {
  path: string;
  report: LoraMergeReport;
  /** False when the shard was already in the cache. */
  merged: boolean;
}

/** Finds each file and hashes it (cached by path, size and mtime). LoraError 'not_found' names a missing file. */
export async function resolveLoras(loras: readonly LoraRequest[], cacheDir: string): Promise<ResolvedLora[]> {
  const out: ResolvedLora[] = [];
  for (const l of loras) {
    if (!Number.isFinite(l.weight)) throw new EngineInputError(`LoRA ${l.path}: weight ${l.weight} is not a finite number`);
    if (l.weight === 0) continue;
    const path = resolve(l.path);
    if (!existsSync(path)) throw new LoraError(path, 'not_found', 'file does not exist');
    out.push({ path, weight: l.weight, sha256: await cachedFileSha256(path, cacheDir) });
  }
  return out;
}

/** Canonical order: by content hash, then weight (also the merge order). */
export function sortLoras(loras: readonly ResolvedLora[]): ResolvedLora[] {
  return [...loras].sort((a, b) => (a.sha256 < b.sha256 ? -1 : a.sha256 > b.sha256 ? 1 : a.weight - b.weight));
}

export function loraVariantHash(checkpointHash: string, precision: ShardPrecision, loras: readonly ResolvedLora[]): string {
  const list = sortLoras(loras).map((l) => [l.sha256, l.weight]);
  return createHash('sha256').update(JSON.stringify({ checkpoint: checkpointHash, precision, version: LORA_MERGE_VERSION, loras: list })).digest('hex');
}

export function loraShardPath(cacheDir: string, variant: string): string {
  return join(cacheDir, 'loras', `${variant.slice(0, 32)}.safetensors`);
}

const REPORT_METADATA_KEY = 'fooocus_cloud_lora_report';

export interface EnsureLoraShardOptions {
  checkpoint: SafetensorsFile;
  checkpointHash: string;
  keyMap: LoraKeyMap;
  loras: readonly ResolvedLora[];
  precision: ShardPrecision;
  cacheDir: string;
}

/** The shard for this set: from the cache, or merged now. */
export async function ensureLoraShard(opts: EnsureLoraShardOptions): Promise<LoraShard> {
  const variant = loraVariantHash(opts.checkpointHash, opts.precision, opts.loras);
  const path = loraShardPath(opts.cacheDir, variant);
  if (existsSync(path)) {
    const report = readShardReport(path);
    if (report && report.variant === variant) return { path, report, merged: false };
  }
  mkdirSync(join(opts.cacheDir, 'loras'), { recursive: true });
  const report = await mergeLoras({ ...opts, variant, outPath: path });
  return { path, report, merged: true };
}

/** The report a shard carries, or null when the file is not one of ours. */
export function readShardReport(path: string): LoraMergeReport | null {
  let f: SafetensorsFile | undefined;
  try {
    f = openSafetensors(path);
    const raw = f.metadata[REPORT_METADATA_KEY];
    return raw ? (JSON.parse(raw) as LoraMergeReport) : null;
  } catch {
    return null;
  } finally {
    f?.close();
  }
}

/** One patch, planned against one checkpoint tensor. */
interface PlannedPatch {
  file: LoraTensors;
  weight: number;
  patch: LoraPatch;
  slice: TensorSlice;
}

export interface MergeLorasOptions {
  checkpoint: SafetensorsFile;
  keyMap: LoraKeyMap;
  loras: readonly ResolvedLora[];
  precision: ShardPrecision;
  variant: string;
  outPath: string;
  /** Computes the plain LoRA products; default: onnxruntime's CPU GEMM (lowRankUpdate.ts). */
  updater?: LowRankUpdater;
}

/** Merges the set and writes the shard (atomically); returns what was done. */
export async function mergeLoras(opts: MergeLorasOptions): Promise<LoraMergeReport> {
  const started = performance.now();
  const files: LoraFileReport[] = [];
  const warnings: string[] = [];
  const open: LoraTensors[] = [];
  const plan = new Map<string, PlannedPatch[]>();
  const patchedUnet = new Set<string>();
  const patchedClip = new Set<string>();
  const graphs = new Set<LoraGraph>();
  let ownUpdater: LowRankUpdater | undefined;
  try {
    for (const lora of sortLoras(opts.loras)) {
      const file = openLoraFile(lora.path);
      open.push(file);
      const match = matchLora(file, opts.keyMap);
      const report: LoraFileReport = {
        path: lora.path, weight: lora.weight, sha256: lora.sha256, status: 'applied',
        patched: { unet: 0, clip: 0 }, kinds: {},
        unmatchedCount: match.unmatched.length, unmatched: match.unmatched.slice(0, MAX_NAMES_REPORTED),
        shapeMismatches: [], hints: match.unmatched.length > 0 ? formatHints(match.unmatched) : [],
      };
      files.push(report);
      if (match.unmatched.length > MAX_UNMATCHED_TENSORS) {
        report.status = 'skipped_mismatch';
        warnings.push(`LoRA ${lora.path} skipped: ${match.unmatched.length} of its tensors match no weight of this checkpoint (Fooocus skips a file above ${MAX_UNMATCHED_TENSORS})${hintText(report.hints)}`);
        continue;
      }
      if (match.patches.length === 0) {
        report.status = 'no_match';
        warnings.push(`LoRA ${lora.path} matches no weight of this checkpoint${hintText(report.hints)}`);
        continue;
      }
      const shapeOf = (name: string) => file.shape(name);
      for (const m of match.patches) {
        const slice = m.part === 'weight' ? m.target.weight : m.target.bias;
        if (!slice) continue; // a bias patch for a layer without bias: Fooocus's add_patches drops it too
        const internal = m.part === 'weight' ? m.target.internal : `${m.target.internal.slice(0, -'.weight'.length)}.bias`;
        (m.target.graph === 'unet' ? patchedUnet : patchedClip).add(internal);
        report.patched[m.target.graph === 'unet' ? 'unet' : 'clip'] += 1;
        report.kinds[m.patch.kind] = (report.kinds[m.patch.kind] ?? 0) + 1;
        const problem = deltaShapeError(m.patch, slice.shape, shapeOf);
        if (problem) {
          report.shapeMismatches.push(`${m.module}: ${problem}`);
          continue;
        }
        graphs.add(m.target.graph);
        let list = plan.get(slice.key);
        if (!list) plan.set(slice.key, (list = []));
        list.push({ file, weight: lora.weight, patch: m.patch, slice });
      }
      if (report.shapeMismatches.length > 0) {
        warnings.push(`LoRA ${lora.path}: ${report.shapeMismatches.length} patches do not fit their weights and were not applied (first: ${report.shapeMismatches[0]})`);
      }
      if (report.unmatchedCount > 0) {
        warnings.push(`LoRA ${lora.path}: ${report.unmatchedCount} tensors match nothing and are ignored (${report.unmatched.slice(0, 3).join(', ')}${report.unmatchedCount > 3 ? ', …' : ''})`);
      }
    }

    const report: LoraMergeReport = {
      variant: opts.variant,
      precision: opts.precision,
      files,
      patched: { unet: patchedUnet.size, clip: patchedClip.size },
      tensors: plan.size,
      graphs: [...graphs].sort(),
      warnings,
      seconds: 0,
    };
    const updater = opts.updater ?? (plan.size > 0 ? (ownUpdater = await createLowRankUpdater()) : undefined);
    const tensors: TensorToWriteAsync[] = [...plan.keys()].sort().map((key) => {
      const info = opts.checkpoint.info(key);
      const dtype = shardDtype(info.dtype, opts.precision);
      return { name: key, dtype, shape: info.shape, bytes: async () => encode(await mergedTensor(opts.checkpoint, key, plan.get(key)!, updater), dtype) };
    });
    // The report is written before the tensors are merged: it is complete already, except for the time.
    await writeSafetensorsFileAsync(opts.outPath, tensors, { [REPORT_METADATA_KEY]: JSON.stringify(report) });
    report.seconds = (performance.now() - started) / 1000;
    return report;
  } finally {
    for (const f of open) f.close();
    await ownUpdater?.release();
  }
}

/**
 * float32 values of one checkpoint tensor with every planned patch added.
 * Consecutive plain LoRA patches of one slice are stacked into one product
 * (loraDelta.ts stackFactors): with five LoRAs the weight crosses into the
 * GEMM once, not five times. Other kinds apply in order where they stand
 * (GLoRA reads the weight so far).
 */
async function mergedTensor(checkpoint: SafetensorsFile, key: string, patches: readonly PlannedPatch[], updater: LowRankUpdater | undefined): Promise<Float32Array> {
  // The file reads into a fresh buffer per call, so the values can be patched in place.
  const w = tensorFloat32(checkpoint, key);
  const rowLen = w.length / checkpoint.info(key).shape[0];
  const partOf = (slice: TensorSlice) => (slice.rows ? w.subarray(slice.rows.start * rowLen, (slice.rows.start + slice.rows.count) * rowLen) : w);
  const pending = new Map<number, { slice: TensorSlice; factors: LowRankFactors[] }>();
  const flush = async (rowStart: number) => {
    const group = pending.get(rowStart);
    if (!group) return;
    pending.delete(rowStart);
    const f = stackFactors(group.factors);
    const part = partOf(group.slice);
    if (updater) await updater.add(part, f.a, f.b, f.m, f.k, f.n, f.scale);
    else addScaledProduct(part, f.a, f.b, f.m, f.k, f.n, f.scale);
  };
  for (const p of patches) {
    const read = (name: string): LoraTensor => ({ data: p.file.float32(name), shape: p.file.shape(name) });
    const rowStart = p.slice.rows?.start ?? 0;
    if (p.patch.kind === 'lora') {
      const group = pending.get(rowStart) ?? { slice: p.slice, factors: [] };
      group.factors.push(loraFactors(p.patch, p.weight, read));
      pending.set(rowStart, group);
      continue;
    }
    await flush(rowStart);
    await addPatchDelta(partOf(p.slice), p.slice.shape, p.patch, p.weight, read, updater);
  }
  for (const rowStart of [...pending.keys()]) await flush(rowStart);
  return w;
}

function shardDtype(stored: SafetensorsDtype, precision: ShardPrecision): SafetensorsDtype {
  if (precision === 'float32') return 'F32';
  return stored === 'F16' || stored === 'BF16' || stored === 'F32' ? stored : 'F32';
}

function encode(values: Float32Array, dtype: SafetensorsDtype): Uint8Array {
  switch (dtype) {
    case 'F32':
      return new Uint8Array(values.buffer, values.byteOffset, values.byteLength);
    case 'F16':
      return new Uint8Array(float32ToHalfBits(values).buffer);
    case 'BF16': {
      const u = new Uint32Array(values.buffer, values.byteOffset, values.length);
      const h = new Uint16Array(values.length);
      for (let i = 0; i < values.length; i++) {
        const x = u[i];
        // Round to nearest even on the dropped 16 bits; NaN stays NaN.
        h[i] = (x & 0x7fffffff) > 0x7f800000 ? (x >>> 16) | 0x40 : (x + 0x7fff + ((x >>> 16) & 1)) >>> 16;
      }
      return new Uint8Array(h.buffer);
    }
    default:
      throw new Error(`cannot write a merged tensor as ${dtype}`);
  }
}

function hintText(hints: readonly string[]): string {
  return hints.length > 0 ? `; ${hints.join('; ')}` : '';
}
