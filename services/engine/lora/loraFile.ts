/**
 * A LoRA file: its tensors, and which of them patch which weight.
 *
 * Matching follows Fooocus's `match_lora` (F `modules/lora.py`) exactly,
 * because users' files are judged by it: for each module name of the key map
 * (loraKeyMap.ts), in map order, the tensor names of every format it knows
 * are looked up; whatever is consumed is "matched", everything else is
 * "unmatched" — and a file with more than 12 unmatched tensors is skipped
 * whole by the caller (mergeLoras.ts). Formats, with the tensors they read
 * (X = the module name):
 *  - LoRA / LoCon: `X.lora_up.weight` + `X.lora_down.weight` (+ `X.lora_mid.weight`,
 *    LyCORIS CP/Tucker), or `X_lora.up/down.weight` (diffusers), or
 *    `X.lora_linear_layer.up/down.weight` (transformers); optional `X.alpha`;
 *  - LoHa: `X.hada_w1_a/_w1_b/_w2_a/_w2_b` (+ `hada_t1/_t2`, CP);
 *  - LoKr: `X.lokr_w1` or `lokr_w1_a/_w1_b`, `X.lokr_w2` or `lokr_w2_a/_w2_b` (+ `lokr_t2`);
 *  - GLoRA: `X.a1/a2/b1/b2.weight`;
 *  - full differences: `X.diff` (weight), `X.diff_b` (bias), `X.w_norm` / `X.b_norm` (norm layers);
 *  - Fooocus' quantised full-rank patch (the inpaint `.fooocus.patch`): a
 *    UNet state-dict key itself (`diffusion_model.….weight` or `.bias`, the
 *    identity entries Fooocus adds to its UNet key map) holding the tuple
 *    `(q U8, min, max)`, flattened by the pickle reader to `K.0`, `K.1`, `K.2`.
 * When one module carries several formats, the later one in this list wins,
 * as in Fooocus (a dict assignment per target). PEFT's `lora_A` / `lora_B`
 * names and DoRA's `dora_scale` are not read by Fooocus, so they count as
 * unmatched here too; the report says so (see `formatHints`).
 *
 * Containers: `.safetensors`, and PyTorch pickles (`.pt`, `.bin`, `.ckpt`,
 * `.pth`, as Fooocus's `load_torch_file`: a top-level `state_dict` is
 * unwrapped) through the allow-listed reader io/torchPickle.ts, which never
 * runs code; anything else is LoraError('unsupported_container').
 */
import { extname } from 'node:path';
import { existsSync } from 'node:fs';
import { openSafetensors, type SafetensorsFile } from '../io/safetensors.ts';
import { CheckpointError } from '../io/engineErrors.ts';
import { loadTorchStateDict, type TorchTensor } from '../io/torchPickle.ts';
import { tensorFloat32 } from './float16Arrays.ts';
import { LoraError } from './loraErrors.ts';
import type { LoraKeyMap, LoraTarget } from './loraKeyMap.ts';

/** A LoRA file's tensors, whatever the container. */
export interface LoraTensors {
  readonly path: string;
  names(): IterableIterator<string>;
  has(name: string): boolean;
  shape(name: string): number[];
  /** Values upcast to float32 (F16/BF16 exactly). */
  float32(name: string): Float32Array;
  close(): void;
}

export type LoraPatch =
  | { kind: 'lora'; up: string; down: string; mid: string | null; alpha: number | null }
  | { kind: 'loha'; w1a: string; w1b: string; w2a: string; w2b: string; t1: string | null; t2: string | null; alpha: number | null }
  | {
    kind: 'lokr';
    w1: string | null; w2: string | null; w1a: string | null; w1b: string | null;
    w2a: string | null; w2b: string | null; t2: string | null; alpha: number | null;
  }
  | { kind: 'glora'; a1: string; a2: string; b1: string; b2: string; alpha: number | null }
  | { kind: 'diff'; tensor: string }
  /** Fooocus' quantised patch: ΔW = q/255·(max − min) + min (F modules/patch.py calculate_weight_patched, 'fooocus'). */
  | { kind: 'fooocus'; q: string; min: string; max: string };

export type LoraPatchKind = LoraPatch['kind'];

/** One weight (or bias) a file patches. */
export interface ModulePatch {
  /** The module name in the file. */
  module: string;
  target: LoraTarget;
  part: 'weight' | 'bias';
  patch: LoraPatch;
}

export interface LoraMatch {
  /** At most one patch per (target, part): the last format Fooocus would have kept. */
  patches: ModulePatch[];
  /** Tensor names no module consumed, in file order. */
  unmatched: string[];
}

const SAFETENSORS_EXT = new Set(['.safetensors', '.sft']);
/** `.patch`: Fooocus' inpaint patches (`inpaint_v26.fooocus.patch`), torch pickles like the rest. */
const PICKLE_EXT = new Set(['.pt', '.pth', '.bin', '.ckpt', '.patch']);

/** Opens a LoRA file; LoraError when it is missing or in a container this engine cannot read. */
export function openLoraFile(path: string): LoraTensors {
  if (!existsSync(path)) throw new LoraError(path, 'not_found', 'file does not exist');
  const ext = extname(path).toLowerCase();
  if (PICKLE_EXT.has(ext)) return pickleLora(path);
  let file: SafetensorsFile;
  try {
    file = openSafetensors(path);
  } catch (e) {
    if (e instanceof CheckpointError && !SAFETENSORS_EXT.has(ext)) {
      throw new LoraError(path, 'unsupported_container', `file is not a safetensors file (${ext || 'no extension'})`, { cause: e });
    }
    throw e;
  }
  return safetensorsLora(file);
}

function safetensorsLora(file: SafetensorsFile): LoraTensors {
  return {
    path: file.path,
    names: () => file.tensors.keys(),
    has: (name) => file.has(name),
    shape: (name) => file.info(name).shape,
    float32: (name) => tensorFloat32(file, name),
    close: () => file.close(),
  };
}

function pickleLora(path: string): LoraTensors {
  let tensors: Map<string, TorchTensor>;
  try {
    tensors = loadTorchStateDict(path);
  } catch (e) {
    throw new LoraError(path, 'unsupported_container', `file cannot be read as a PyTorch checkpoint: ${(e as Error).message}`, { cause: e });
  }
  const names = [...tensors.keys()];
  if (names.length > 0 && names.every((n) => n.startsWith('state_dict.'))) {
    tensors = new Map(names.map((n) => [n.slice('state_dict.'.length), tensors.get(n)!]));
  }
  const get = (name: string): TorchTensor => {
    const t = tensors.get(name);
    if (!t) throw new LoraError(path, 'bad_tensor', `tensor ${name} is missing`);
    return t;
  };
  return {
    path,
    names: () => tensors.keys(),
    has: (name) => tensors.has(name),
    shape: (name) => [...get(name).shape],
    float32: (name) => get(name).float32(),
    close: () => tensors.clear(),
  };
}

/** Every tensor-name suffix a module can carry (for the quick "is this module in the file" test). */
const SUFFIXES = [
  '.alpha', '.lora_up.weight', '.lora_down.weight', '.lora_mid.weight', '_lora.up.weight', '_lora.down.weight',
  '.lora_linear_layer.up.weight', '.lora_linear_layer.down.weight',
  '.hada_w1_a', '.hada_w1_b', '.hada_w2_a', '.hada_w2_b', '.hada_t1', '.hada_t2',
  '.lokr_w1', '.lokr_w2', '.lokr_w1_a', '.lokr_w1_b', '.lokr_w2_a', '.lokr_w2_b', '.lokr_t2',
  '.a1.weight', '.a2.weight', '.b1.weight', '.b2.weight', '.w_norm', '.b_norm', '.diff', '.diff_b',
];

/** Fooocus's match_lora over one file and one key map. */
export function matchLora(file: LoraTensors, map: LoraKeyMap): LoraMatch {
  const stems = new Set<string>();
  for (const name of file.names()) {
    for (const s of SUFFIXES) if (name.endsWith(s)) stems.add(name.slice(0, -s.length));
  }
  const consumed = new Set<string>();
  const byTarget = new Map<string, ModulePatch>();
  const take = (name: string): string => {
    consumed.add(name);
    return name;
  };
  const opt = (name: string): string | null => (file.has(name) ? take(name) : null);
  const set = (x: string, target: LoraTarget, part: 'weight' | 'bias', patch: LoraPatch) => {
    // Keyed like Fooocus's patch_dict: a later format or module for the same weight replaces the earlier.
    byTarget.set(`${target.internal}|${part}`, { module: x, target, part, patch });
  };

  for (const [x, target] of map.modules) {
    if (!stems.has(x)) continue;
    const alphaName = opt(`${x}.alpha`);
    const alpha = alphaName === null ? null : scalar(file, alphaName);

    let up: string | null = null;
    let down = '';
    let midName: string | null = null;
    if (file.has(`${x}.lora_up.weight`)) {
      up = `${x}.lora_up.weight`;
      down = `${x}.lora_down.weight`;
      midName = `${x}.lora_mid.weight`;
    } else if (file.has(`${x}_lora.up.weight`)) {
      up = `${x}_lora.up.weight`;
      down = `${x}_lora.down.weight`;
    } else if (file.has(`${x}.lora_linear_layer.up.weight`)) {
      up = `${x}.lora_linear_layer.up.weight`;
      down = `${x}.lora_linear_layer.down.weight`;
    }
    if (up !== null) {
      if (!file.has(down)) throw new LoraError(file.path, 'bad_tensor', `${up} has no matching ${down}`);
      const mid = midName === null ? null : opt(midName);
      set(x, target, 'weight', { kind: 'lora', up: take(up), down: take(down), mid, alpha });
    }

    if (file.has(`${x}.hada_w1_a`)) {
      const t1 = file.has(`${x}.hada_t1`) ? take(`${x}.hada_t1`) : null;
      const t2 = t1 === null ? null : need(file, `${x}.hada_t2`, take);
      set(x, target, 'weight', {
        kind: 'loha',
        w1a: need(file, `${x}.hada_w1_a`, take), w1b: need(file, `${x}.hada_w1_b`, take),
        w2a: need(file, `${x}.hada_w2_a`, take), w2b: need(file, `${x}.hada_w2_b`, take),
        t1, t2, alpha,
      });
    }

    const lokr = {
      w1: opt(`${x}.lokr_w1`), w2: opt(`${x}.lokr_w2`), w1a: opt(`${x}.lokr_w1_a`), w1b: opt(`${x}.lokr_w1_b`),
      w2a: opt(`${x}.lokr_w2_a`), w2b: opt(`${x}.lokr_w2_b`), t2: opt(`${x}.lokr_t2`),
    };
    if (lokr.w1 !== null || lokr.w2 !== null || lokr.w1a !== null || lokr.w2a !== null) {
      set(x, target, 'weight', { kind: 'lokr', ...lokr, alpha });
    }

    if (file.has(`${x}.a1.weight`)) {
      set(x, target, 'weight', {
        kind: 'glora',
        a1: need(file, `${x}.a1.weight`, take), a2: need(file, `${x}.a2.weight`, take),
        b1: need(file, `${x}.b1.weight`, take), b2: need(file, `${x}.b2.weight`, take),
        alpha,
      });
    }

    const wNorm = opt(`${x}.w_norm`);
    if (wNorm !== null) {
      set(x, target, 'weight', { kind: 'diff', tensor: wNorm });
      const bNorm = opt(`${x}.b_norm`);
      if (bNorm !== null) set(x, target, 'bias', { kind: 'diff', tensor: bNorm });
    }
    const diff = opt(`${x}.diff`);
    if (diff !== null) set(x, target, 'weight', { kind: 'diff', tensor: diff });
    const diffB = opt(`${x}.diff_b`);
    if (diffB !== null) set(x, target, 'bias', { kind: 'diff', tensor: diffB });
  }

  // Fooocus' identity entries (`key_map[k] = k` for every UNet state-dict key) come last in its map;
  // a file holding the key itself carries a ('fooocus', (q, min, max)) patch.
  for (const [internal, target] of map.internal) {
    if (target.graph !== 'unet') continue;
    const fooocus = (key: string): LoraPatch | null =>
      file.has(`${key}.0`) && file.has(`${key}.1`) && file.has(`${key}.2`)
        ? { kind: 'fooocus', q: take(`${key}.0`), min: take(`${key}.1`), max: take(`${key}.2`) }
        : null;
    const w = fooocus(internal);
    if (w) set(internal, target, 'weight', w);
    if (target.bias) {
      const b = fooocus(`${internal.slice(0, -'.weight'.length)}.bias`);
      if (b) set(internal, target, 'bias', b);
    }
  }

  const unmatched: string[] = [];
  for (const name of file.names()) if (!consumed.has(name)) unmatched.push(name);
  return { patches: [...byTarget.values()], unmatched };
}

/**
 * Why a file's tensors went unmatched, when the names say so: formats other
 * tools write that Fooocus does not read. Empty when nothing is recognisable.
 */
export function formatHints(unmatched: readonly string[]): string[] {
  const hints: string[] = [];
  if (unmatched.some((n) => /\.lora_[AB]\.(default\.)?weight$/.test(n))) {
    hints.push('PEFT lora_A/lora_B tensor names are not recognised by Fooocus (convert the file to kohya names)');
  }
  if (unmatched.some((n) => n.endsWith('.dora_scale'))) hints.push('DoRA dora_scale tensors are not applied (Fooocus ignores them too)');
  if (unmatched.some((n) => n.startsWith('lora_te_') || n.startsWith('lora_te1_') || n.startsWith('lora_unet_'))) {
    hints.push('module names for layers this checkpoint lacks (a LoRA for another architecture, e.g. SD 1.5?)');
  }
  return hints;
}

function need(file: LoraTensors, name: string, take: (n: string) => string): string {
  if (!file.has(name)) throw new LoraError(file.path, 'bad_tensor', `tensor ${name} is missing (its module's other factors are present)`);
  return take(name);
}

function scalar(file: LoraTensors, name: string): number {
  const v = file.float32(name);
  if (v.length !== 1) throw new LoraError(file.path, 'bad_tensor', `${name} has ${v.length} values, expected a scalar`);
  return v[0];
}
