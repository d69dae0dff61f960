/**
 * The LoRA variants of one checkpoint that are open at a time: a small LRU
 * keyed by the variant hash (checkpoint content, shard precision, the sorted
 * (LoRA content hash, weight) list — mergeLoras.ts), so the same set asked
 * again, in any order or under another file name, reuses its sessions.
 *
 * Why a bound: every variant holds its own sessions for the graphs its LoRAs
 * patch — for SDXL a UNet is ~5 GB of fp16 on a GPU and ~10 GB of float32 on
 * CPU — and Fooocus users switch LoRA sets freely. The default keeps 2
 * (`maxLoadedVariants`), the least recently used one is closed when a third
 * opens. An evicted set comes back without merging or graph building (its
 * shard and graphs stay in the cache directory); only its sessions are
 * created again.
 */
import { LoraError } from './loraErrors.ts';
import type { LoraKeyMap } from './loraKeyMap.ts';
import { ensureLoraShard, loraVariantHash, resolveLoras, type LoraRequest, type LoraShard, type ShardPrecision } from './mergeLoras.ts';
import type { SafetensorsFile } from '../io/safetensors.ts';

/** Default number of LoRA variants kept open per checkpoint. */
export const DEFAULT_MAX_LOADED_VARIANTS = 2;

export interface LoraVariantsOptions<T> {
  /** Variants kept open; default DEFAULT_MAX_LOADED_VARIANTS (at least 1). */
  max?: number;
  cacheDir: string;
  checkpoint: SafetensorsFile;
  checkpointHash: string;
  precision: ShardPrecision;
  /** Built on first use (a few ms for SDXL). */
  keyMap: () => LoraKeyMap;
  /** Opens a variant over a shard. */
  open: (shard: LoraShard) => T;
  close: (variant: T) => Promise<void>;
}

export class LoraVariants<T> {
  private readonly open = new Map<string, Promise<T>>();
  private keyMap: LoraKeyMap | undefined;

  constructor(private readonly opts: LoraVariantsOptions<T>) {}

  /**
   * The variant for `loras`, opened if needed; null when the list changes
   * nothing (empty, or every weight 0): use the checkpoint itself.
   * LoraError when a file is missing or unreadable.
   */
  async get(loras: readonly LoraRequest[]): Promise<T | null> {
    const resolved = await resolveLoras(loras, this.opts.cacheDir);
    if (resolved.length === 0) return null;
    // No await between lookup and insert: concurrent requests for one set share one open.
    const key = loraVariantHash(this.opts.checkpointHash, this.opts.precision, resolved);
    const hit = this.open.get(key);
    if (hit) {
      this.open.delete(key);
      this.open.set(key, hit);
      return hit;
    }
    const p = (async () => {
      this.keyMap ??= this.opts.keyMap();
      const shard = await ensureLoraShard({
        checkpoint: this.opts.checkpoint,
        checkpointHash: this.opts.checkpointHash,
        keyMap: this.keyMap,
        loras: resolved,
        precision: this.opts.precision,
        cacheDir: this.opts.cacheDir,
      });
      if (shard.report.variant !== key) throw new LoraError(shard.path, 'bad_tensor', 'shard does not belong to this LoRA set');
      return this.opts.open(shard);
    })();
    this.open.set(key, p);
    p.catch(() => this.open.delete(key));
    const max = Math.max(1, this.opts.max ?? DEFAULT_MAX_LOADED_VARIANTS);
    while (this.open.size > max) {
      const [oldest, op] = this.open.entries().next().value as [string, Promise<T>];
      this.open.delete(oldest);
      op.then((v) => this.opts.close(v)).catch(() => undefined);
    }
    return p;
  }

  /** Variant hashes open now, least recently used first. */
  keys(): string[] {
    return [...this.open.keys()];
  }

  async close(): Promise<void> {
    const all = [...this.open.values()];
    this.open.clear();
    for (const p of all) await p.then((v) => this.opts.close(v)).catch(() => undefined);
  }
}
