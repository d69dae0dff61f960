/**
 * A torch pickle's tensors as a safetensors shard in the cache directory.
 *
 * Why convert: ONNX external data points at byte ranges of a file, and a
 * torch zip's storages are not guaranteed to lie there usable (deflated
 * entries, strided views, several tensors in one storage). One conversion
 * into a plain safetensors file gives the graph builder the same kind of
 * WeightSource as a user's checkpoint, with the stored dtypes kept (F16 stays
 * F16; the graph casts at load).
 *
 * The shard is keyed by the pickle's content hash (`cachedFileSha256`, so an
 * unchanged file is hashed once), written to a temp name and renamed, so a
 * crash never leaves a half shard that a later load would trust. Tensors the
 * caller does not need (GPT-2's mask buffers, a tied head) are left out.
 */
import { existsSync, mkdirSync } from 'node:fs';
import { basename, join } from 'node:path';
import { cachedFileSha256 } from '../runtime/contentHash.ts';
import { loadTorchStateDict, type TorchTensor } from './torchPickle.ts';
import { writeSafetensorsFile } from './safetensorsWriter.ts';

/** Bump when the shard layout (names, selection) changes for an unchanged pickle. */
const SHARD_VERSION = 1;

export interface TorchPickleShardOptions {
  cacheDir: string;
  /** Keep a tensor? Default: all. Part of the cache key via `variant`. */
  keep?: (key: string, tensor: TorchTensor) => boolean;
  /** Names the selection, so two selections from one pickle get two shards. Default 'all'. */
  variant?: string;
}

export interface TorchPickleShard {
  path: string;
  /** sha256 of the source pickle. */
  contentHash: string;
  /** True when this call wrote the shard. */
  converted: boolean;
}

export async function torchPickleShard(source: string, opts: TorchPickleShardOptions): Promise<TorchPickleShard> {
  const contentHash = await cachedFileSha256(source, opts.cacheDir);
  const dir = join(opts.cacheDir, 'shards');
  const path = join(dir, `${contentHash.slice(0, 32)}-${opts.variant ?? 'all'}-v${SHARD_VERSION}.safetensors`);
  if (existsSync(path)) return { path, contentHash, converted: false };
  const tensors = loadTorchStateDict(source);
  mkdirSync(dir, { recursive: true });
  const keep = opts.keep ?? (() => true);
  writeSafetensorsFile(
    path,
    [...tensors].filter(([k, t]) => keep(k, t)).map(([name, t]) => ({ name, dtype: t.dtype, shape: [...t.shape], bytes: () => t.data })),
    { source: basename(source), source_sha256: contentHash },
  );
  return { path, contentHash, converted: true };
}
