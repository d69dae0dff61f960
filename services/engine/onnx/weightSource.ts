/**
 * Where graph weights come from. A graph names each weight by its checkpoint
 * key (so LoRA patching can replace tensors by name later); a WeightSource
 * says for each key its dtype, shape and the file bytes that hold it.
 *
 * The checkpoint source points ONNX external data straight at byte ranges of
 * the user's .safetensors file: no conversion, no copy on disk. A patched
 * source (LoRA merge) overlays some keys with tensors in a separate shard.
 */
import type { SafetensorsDtype, SafetensorsFile } from '../io/safetensors.ts';
import { CheckpointError } from '../io/engineErrors.ts';

export interface WeightRef {
  key: string;
  dtype: SafetensorsDtype;
  shape: number[];
  /** Absolute path of the file holding the bytes. */
  file: string;
  offset: number;
  byteLength: number;
}

export interface WeightSource {
  /** Name used in errors (the checkpoint path). */
  readonly name: string;
  has(key: string): boolean;
  ref(key: string): WeightRef;
  keys(): Iterable<string>;
}

export function checkpointWeights(file: SafetensorsFile): WeightSource {
  return {
    name: file.path,
    has: (key) => file.has(key),
    ref: (key) => {
      const t = file.tensors.get(key);
      if (!t) throw new CheckpointError(file.path, 'missing_tensor', `tensor ${key} is missing`);
      return { key, dtype: t.dtype, shape: t.shape, file: file.path, offset: t.offset, byteLength: t.byteLength };
    },
    keys: () => file.tensors.keys(),
  };
}

/** A view of a source under a key prefix, e.g. `model.diffusion_model.`. */
export function prefixedWeights(source: WeightSource, prefix: string): WeightSource {
  return {
    name: source.name,
    has: (key) => source.has(prefix + key),
    ref: (key) => source.ref(prefix + key),
    *keys() {
      for (const k of source.keys()) if (k.startsWith(prefix)) yield k.slice(prefix.length);
    },
  };
}

/** Keys of `source` under `prefix` overlaid by `patch` (LoRA-merged tensors). */
export function overlayWeights(base: WeightSource, patch: WeightSource): WeightSource {
  return {
    name: base.name,
    has: (key) => patch.has(key) || base.has(key),
    ref: (key) => (patch.has(key) ? patch.ref(key) : base.ref(key)),
    *keys() {
      const seen = new Set<string>();
      for (const k of patch.keys()) { seen.add(k); yield k; }
      for (const k of base.keys()) if (!seen.has(k)) yield k;
    },
  };
}
