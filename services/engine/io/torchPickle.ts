/**
 * Reader for PyTorch checkpoints (`torch.save`): the zip format (torch ≥ 1.6
 * default) and the legacy non-zip format, through the restricted pickle
 * machine (`pickleMachine.ts`). Fooocus ships several of its models this way
 * (prompt expansion `pytorch_model.bin`, inpaint head `.pth` and patch,
 * ESRGAN upscaler, IP-Adapter `.bin`), so loading them is mandatory, and
 * loading them must never run code (pipeline.md §6.3).
 *
 * Allow-list (everything else is an UnsafePickleError naming the global):
 *  - `collections.OrderedDict` (empty, or from a list of pairs);
 *  - `torch._utils._rebuild_tensor_v2` / `_rebuild_tensor`, and
 *    `_rebuild_parameter` / `_rebuild_parameter_with_state` (a Parameter is
 *    returned as its tensor), `torch._tensor._rebuild_from_type_v2` when it
 *    rebuilds a plain Tensor or Parameter with one of those;
 *  - `torch.<T>Storage` for T in Half, Float, BFloat16, Double, Long, Int,
 *    Short, Char, Byte, Bool (and `UntypedStorage` as bytes) — as markers in
 *    persistent ids only; calling one is refused.
 *
 * Zip layout (golden-features README §0): `<root>/data.pkl`, raw
 * little-endian storages `<root>/data/<key>`, `<root>/version`, optionally
 * `<root>/byteorder`; any single root folder is accepted (torch writes the
 * file stem, newer versions `archive`). Persistent ids are
 * `('storage', StorageType, key, location, numel)`. Legacy layout: pickles
 * for magic number, protocol 1001 and sys_info, the data pickle (ids with a
 * sixth view field), the storage key list, then per key an int64 element
 * count and the raw bytes.
 *
 * Tensors: a storage is read once and shared by every tensor that views it
 * (GPT-2's tied `lm_head.weight` is `transformer.wte.weight`). A contiguous
 * view is a zero-copy subarray; any other non-negative stride is gathered
 * into a contiguous copy on first access; a view that reaches outside its
 * storage is refused.
 */
import { closeSync, fstatSync, readFileSync, readSync } from 'node:fs';
import { CheckpointError } from './engineErrors.ts';
import { describe, isTuple, PickleDict, PickleGlobal, unpickle, UnsafePickleError, type PickleObject, type PickleValue } from './pickleMachine.ts';
import { openCheckpointFile } from './positionalReads.ts';
import { DTYPE_BYTES, tensorDataView, toFloat32, type SafetensorsDtype, type TensorData } from './safetensors.ts';
import { looksLikeZip, ZipArchive } from './zipReader.ts';

export { UnsafePickleError, PickleDict, isTuple, type PickleValue } from './pickleMachine.ts';

/** torch legacy storage class → element type. */
const STORAGE_DTYPES: Record<string, SafetensorsDtype> = {
  HalfStorage: 'F16',
  FloatStorage: 'F32',
  BFloat16Storage: 'BF16',
  DoubleStorage: 'F64',
  LongStorage: 'I64',
  IntStorage: 'I32',
  ShortStorage: 'I16',
  CharStorage: 'I8',
  ByteStorage: 'U8',
  BoolStorage: 'BOOL',
  UntypedStorage: 'U8',
};

/** The legacy format's first pickle (torch/serialization.py MAGIC_NUMBER). */
const LEGACY_MAGIC = 0x1950a86a20f9469cfc6cn;
const LEGACY_PROTOCOL = 1001;

/** A storage type named in a persistent id. */
class StorageType extends PickleGlobal {
  constructor(readonly dtype: SafetensorsDtype, name: string) {
    super('torch', name);
  }
}

/** One storage: its element type, length and (once read) its bytes. */
export class TorchStorage implements PickleObject {
  readonly pickleKind = 'torch storage';
  private data: Uint8Array | undefined;

  constructor(
    readonly file: string,
    readonly key: string,
    readonly dtype: SafetensorsDtype,
    readonly numel: number,
    private readonly load?: () => Uint8Array,
  ) {}

  /** Exactly numel·elementSize bytes. */
  get bytes(): Uint8Array {
    if (!this.data) {
      if (!this.load) throw new CheckpointError(this.file, 'bad_header', `storage ${this.key} has no data`);
      const raw = this.load();
      const want = this.numel * DTYPE_BYTES[this.dtype];
      if (raw.length < want) throw new CheckpointError(this.file, 'truncated', `storage ${this.key} has ${raw.length} bytes, ${this.numel} ${this.dtype} elements need ${want}`);
      this.data = raw.length === want ? raw : raw.subarray(0, want);
    }
    return this.data;
  }

  /** For the legacy format, whose bytes come after the pickle. */
  fill(raw: Uint8Array): void {
    const want = this.numel * DTYPE_BYTES[this.dtype];
    if (raw.length !== want) throw new CheckpointError(this.file, 'truncated', `storage ${this.key} has ${raw.length} bytes, expected ${want}`);
    this.data = raw;
  }
}

/** A tensor: a view (offset, shape, stride in elements) of a shared storage. */
export class TorchTensor implements PickleObject {
  readonly pickleKind = 'torch tensor';
  private contiguous: Uint8Array | undefined;

  constructor(
    readonly storage: TorchStorage,
    readonly storageOffset: number,
    readonly shape: readonly number[],
    readonly stride: readonly number[],
    readonly requiresGrad = false,
  ) {}

  get dtype(): SafetensorsDtype {
    return this.storage.dtype;
  }

  get numel(): number {
    return this.shape.reduce((a, b) => a * b, 1);
  }

  get byteLength(): number {
    return this.numel * DTYPE_BYTES[this.dtype];
  }

  /** Row-major without gaps (dims of size 1 may have any stride, as in torch). */
  get isContiguous(): boolean {
    let expected = 1;
    for (let d = this.shape.length - 1; d >= 0; d--) {
      if (this.shape[d] !== 1 && this.stride[d] !== expected) return false;
      expected *= this.shape[d];
    }
    return true;
  }

  /** Contiguous little-endian bytes: a subarray of the storage when the view allows, else a gathered copy. */
  get data(): Uint8Array {
    if (!this.contiguous) {
      const es = DTYPE_BYTES[this.dtype];
      const src = this.storage.bytes;
      if (this.numel === 0) this.contiguous = new Uint8Array(0);
      else if (this.isContiguous) this.contiguous = src.subarray(this.storageOffset * es, (this.storageOffset + this.numel) * es);
      else this.contiguous = gather(src, es, this.storageOffset, this.shape, this.stride);
    }
    return this.contiguous;
  }

  /** Typed values (F16/BF16 as raw Uint16 bits, as safetensors.ts does). */
  typed(): TensorData {
    return tensorDataView(this.dtype, this.data);
  }

  /** Values as float32 whatever the element type. */
  float32(): Float32Array {
    return toFloat32(this.dtype, this.typed());
  }
}

export interface TorchCheckpoint {
  path: string;
  format: 'zip' | 'legacy';
  /** The unpickled object (usually a PickleDict state dict). */
  root: PickleValue;
  /** The zip's root folder ('' for the legacy format). */
  zipRoot: string;
}

/**
 * Loads a torch checkpoint; storages are read into memory, each once.
 * Errors: CheckpointError (not_found, truncated, bad_header with the reason:
 * a safetensors file, the legacy tar format, big-endian data, malformed
 * pickle), UnsafePickleError for any global outside the allow-list.
 */
export function loadTorchCheckpoint(path: string): TorchCheckpoint {
  const head = readHead(path, 512);
  if (looksLikeZip(head)) return loadZip(path);
  if (looksLikeSafetensors(head)) {
    throw new CheckpointError(path, 'bad_header', 'this is a safetensors file, not a PyTorch pickle; open it with the safetensors reader');
  }
  if (head.length >= 262 && latin1(head.subarray(257, 262)) === 'ustar') {
    throw new CheckpointError(path, 'bad_header', 'PyTorch legacy tar format (torch < 0.4) is not supported; re-save the file with a current torch');
  }
  if (head.length >= 2 && head[0] === 0x80) return loadLegacy(path);
  throw new CheckpointError(path, 'bad_header', 'not a PyTorch checkpoint (neither a torch zip archive nor a legacy pickle)');
}

/**
 * Every tensor under `root`, keyed by its path: dict keys joined with '.',
 * tuple/list items by index (`key.0`, `key.1`, as in Fooocus's inpaint patch
 * `(weight, min, max)`). Non-tensor leaves are skipped.
 */
export function flattenTensors(root: PickleValue, prefix = ''): Map<string, TorchTensor> {
  const out = new Map<string, TorchTensor>();
  const walk = (v: PickleValue, key: string) => {
    if (v instanceof TorchTensor) out.set(key, v);
    else if (v instanceof PickleDict) for (const [k, child] of v) walk(child, key ? `${key}.${String(k)}` : String(k));
    else if (Array.isArray(v)) v.forEach((child: PickleValue, i: number) => walk(child, key ? `${key}.${i}` : String(i)));
  };
  walk(root, prefix);
  return out;
}

/** `loadTorchCheckpoint` + `flattenTensors`: the usual state-dict view. */
export function loadTorchStateDict(path: string): Map<string, TorchTensor> {
  return flattenTensors(loadTorchCheckpoint(path).root);
}

// ---------------------------------------------------------------- formats

function loadZip(path: string): TorchCheckpoint {
  const zip = ZipArchive.open(path);
  try {
    const roots = new Set<string>();
    for (const name of zip.entries.keys()) roots.add(name.split('/')[0]);
    const pkls = [...zip.entries.keys()].filter((n) => /^[^/]+\/data\.pkl$/.test(n));
    if (pkls.length !== 1 || roots.size !== 1) {
      throw new CheckpointError(path, 'bad_header', `zip is not a torch archive: expected one root folder with data.pkl, found roots ${[...roots].slice(0, 5).join(', ')}`);
    }
    const root = pkls[0].slice(0, -'/data.pkl'.length);
    if (zip.has(`${root}/byteorder`)) {
      const order = zip.read(`${root}/byteorder`).toString('latin1').trim();
      if (order !== 'little') throw new CheckpointError(path, 'bad_header', `storages are ${order}-endian; only little-endian files are supported`);
    }
    const storages = new Map<string, TorchStorage>();
    const persistentLoad = (pid: PickleValue): PickleValue => {
      const { type, key, numel } = parseStoragePid(pid, path, 5);
      let s = storages.get(key);
      if (!s) {
        const entry = `${root}/data/${key}`;
        if (!zip.has(entry)) throw new CheckpointError(path, 'truncated', `storage ${key} is referenced but ${entry} is missing`);
        const bytes = zip.read(entry);
        s = new TorchStorage(path, key, type.dtype, numel, () => bytes);
        storages.set(key, s);
      }
      return checkSameStorage(s, type, numel, path);
    };
    const pickle = zip.read(pkls[0]);
    const { value } = unpickle(pickle, { file: path, globals: torchGlobals(path), persistentLoad });
    // Read every referenced storage now: the archive closes below, and a short entry should fail the load, not a later use.
    for (const s of storages.values()) void s.bytes;
    return { path, format: 'zip', root: value, zipRoot: root };
  } finally {
    zip.close();
  }
}

function loadLegacy(path: string): TorchCheckpoint {
  let data: Buffer;
  try {
    data = readFileSync(path);
  } catch (e) {
    // Node reads at most 2 GB in one call; legacy files that large are re-saved with a current torch.
    throw new CheckpointError(path, 'bad_header', `legacy torch file cannot be read whole: ${(e as Error).message}`, { cause: e });
  }
  const plain = { file: path, globals: new Map<string, PickleGlobal>() };
  const magic = unpickle(data, plain);
  if (magic.value !== LEGACY_MAGIC) throw new CheckpointError(path, 'bad_header', 'pickle is not a PyTorch checkpoint (no torch magic number)');
  const protocol = unpickle(data, { ...plain, offset: magic.end });
  if (protocol.value !== LEGACY_PROTOCOL) throw new CheckpointError(path, 'bad_header', `unsupported legacy torch protocol ${String(protocol.value)}`);
  const sysInfo = unpickle(data, { ...plain, offset: protocol.end });
  if (sysInfo.value instanceof PickleDict && sysInfo.value.get('little_endian') === false) {
    throw new CheckpointError(path, 'bad_header', 'storages are big-endian; only little-endian files are supported');
  }
  const roots = new Map<string, TorchStorage>();
  const persistentLoad = (pid: PickleValue): PickleValue => {
    const { type, key, numel, view } = parseStoragePid(pid, path, 6);
    let root = roots.get(key);
    if (!root) {
      root = new TorchStorage(path, key, type.dtype, numel);
      roots.set(key, root);
    }
    checkSameStorage(root, type, numel, path);
    if (!view) return root;
    // (view_key, offset, view_size): a storage slice, in elements.
    const r = root;
    const es = DTYPE_BYTES[type.dtype];
    if (view.offset + view.size > numel) throw new CheckpointError(path, 'bad_header', `storage view ${view.key} reaches past storage ${key}`);
    return new TorchStorage(path, view.key, type.dtype, view.size, () => r.bytes.subarray(view.offset * es, (view.offset + view.size) * es));
  };
  const main = unpickle(data, { file: path, globals: torchGlobals(path), persistentLoad, offset: sysInfo.end });
  const keys = unpickle(data, { ...plain, offset: main.end });
  if (!Array.isArray(keys.value) || !keys.value.every((k: PickleValue) => typeof k === 'string')) {
    throw new CheckpointError(path, 'bad_header', 'legacy storage key list is malformed');
  }
  let pos = keys.end;
  for (const key of keys.value as string[]) {
    if (pos + 8 > data.length) throw new CheckpointError(path, 'truncated', `storage ${key} lies past the end of the file`);
    const count = data.readBigInt64LE(pos);
    pos += 8;
    const s = roots.get(key);
    if (!s) throw new CheckpointError(path, 'bad_header', `storage ${key} is stored but never referenced`);
    if (count !== BigInt(s.numel)) throw new CheckpointError(path, 'bad_header', `storage ${key} holds ${count} elements, its id says ${s.numel}`);
    const n = s.numel * DTYPE_BYTES[s.dtype];
    if (pos + n > data.length) throw new CheckpointError(path, 'truncated', `storage ${key} runs past the end of the file`);
    s.fill(data.subarray(pos, pos + n));
    pos += n;
  }
  for (const [key, s] of roots) {
    try {
      void s.bytes;
    } catch (e) {
      throw new CheckpointError(path, 'truncated', `storage ${key} is referenced but not stored`, { cause: e });
    }
  }
  return { path, format: 'legacy', root: main.value, zipRoot: '' };
}

interface StoragePid {
  type: StorageType;
  key: string;
  numel: number;
  view?: { key: string; offset: number; size: number };
}

/** ('storage', StorageType, key, location, numel[, view]) */
function parseStoragePid(pid: PickleValue, path: string, arity: 5 | 6): StoragePid {
  const bad = (why: string) => new CheckpointError(path, 'bad_header', `persistent id ${why}`);
  if (!isTuple(pid) || pid[0] !== 'storage') {
    if (typeof pid === 'string' || isTuple(pid)) throw bad(`${JSON.stringify(String(isTuple(pid) ? pid[0] : pid))} is not a storage`);
    throw bad(`is a ${describe(pid)}, not a storage tuple`);
  }
  if (pid.length !== arity) throw bad(`has ${pid.length} fields, expected ${arity}`);
  const [, type, key, location, numel] = pid;
  if (!(type instanceof StorageType)) throw bad(`names ${describe(type)}, not a storage type`);
  if (typeof key !== 'string' || !/^[\w.-]+$/.test(key)) throw bad(`key ${String(key)} is not a plain name`);
  if (typeof location !== 'string') throw bad('location is not a string');
  if (typeof numel !== 'number' || !Number.isSafeInteger(numel) || numel < 0) throw bad(`element count ${String(numel)} is invalid`);
  const out: StoragePid = { type, key, numel };
  if (arity === 6 && pid[5] !== null) {
    const v = pid[5];
    if (!isTuple(v) || v.length !== 3 || typeof v[0] !== 'string' || typeof v[1] !== 'number' || typeof v[2] !== 'number') throw bad('view is malformed');
    out.view = { key: v[0], offset: v[1], size: v[2] };
  }
  return out;
}

function checkSameStorage(s: TorchStorage, type: StorageType, numel: number, path: string): TorchStorage {
  if (s.dtype !== type.dtype || s.numel !== numel) {
    throw new CheckpointError(path, 'bad_header', `storage ${s.key} is referenced as ${type.dtype}×${numel} and as ${s.dtype}×${s.numel}`);
  }
  return s;
}

// ---------------------------------------------------------------- allow-list

function torchGlobals(path: string): Map<string, PickleGlobal> {
  const m = new Map<string, PickleGlobal>();
  const add = (g: PickleGlobal) => m.set(g.qualified, g);
  const bad = (why: string) => new CheckpointError(path, 'bad_header', why);

  add(new PickleGlobal('collections', 'OrderedDict', (args) => {
    const d = new PickleDict('OrderedDict');
    if (args.length === 0) return d;
    const items = args[0];
    if (args.length !== 1 || !Array.isArray(items)) throw bad('OrderedDict(...) with unsupported arguments');
    for (const pair of items as PickleValue[]) {
      if (!Array.isArray(pair) || pair.length !== 2) throw bad('OrderedDict item is not a pair');
      const k = pair[0] as PickleValue;
      if (k !== null && typeof k === 'object') throw bad('OrderedDict key is not a plain value');
      d.set(k as string, pair[1] as PickleValue);
    }
    return d;
  }));

  const rebuildTensor = (args: readonly PickleValue[], name: string): TorchTensor => {
    const [storage, offset, size, stride, requiresGrad] = args;
    if (!(storage instanceof TorchStorage)) throw bad(`${name}: first argument is a ${describe(storage)}, not a storage`);
    const shape = intTuple(size, `${name} size`, path);
    const strides = intTuple(stride, `${name} stride`, path);
    if (typeof offset !== 'number' || !Number.isSafeInteger(offset) || offset < 0) throw bad(`${name}: storage offset ${String(offset)} is invalid`);
    if (shape.length !== strides.length) throw bad(`${name}: size has ${shape.length} dims, stride ${strides.length}`);
    checkView(storage, offset, shape, strides, path);
    return new TorchTensor(storage, offset, shape, strides, requiresGrad === true);
  };
  const rebuildV2 = new PickleGlobal('torch._utils', '_rebuild_tensor_v2', (args) => {
    if (args.length < 6 || args.length > 7) throw bad(`_rebuild_tensor_v2 with ${args.length} arguments`);
    return rebuildTensor(args, '_rebuild_tensor_v2');
  });
  const rebuildV1 = new PickleGlobal('torch._utils', '_rebuild_tensor', (args) => {
    if (args.length !== 4) throw bad(`_rebuild_tensor with ${args.length} arguments`);
    return rebuildTensor(args, '_rebuild_tensor');
  });
  const parameter = (name: string) =>
    new PickleGlobal('torch._utils', name, (args) => {
      const t = args[0];
      if (!(t instanceof TorchTensor)) throw bad(`${name}: data is a ${describe(t)}, not a tensor`);
      return t;
    });
  add(rebuildV2);
  add(rebuildV1);
  add(parameter('_rebuild_parameter'));
  add(parameter('_rebuild_parameter_with_state'));
  // Tensor subclasses pickle as _rebuild_from_type_v2(func, type, args, state); only plain Tensor/Parameter are accepted.
  const tensorType = new PickleGlobal('torch', 'Tensor');
  const parameterType = new PickleGlobal('torch.nn.parameter', 'Parameter');
  add(tensorType);
  add(parameterType);
  add(new PickleGlobal('torch._tensor', '_rebuild_from_type_v2', (args) => {
    const [func, type, inner] = args;
    if (func !== rebuildV2 && func !== rebuildV1) throw bad(`_rebuild_from_type_v2 with ${describe(func)}`);
    if (type !== tensorType && type !== parameterType) throw new UnsafePickleError(path, describe(type), 'tensor subclass');
    if (!isTuple(inner)) throw bad('_rebuild_from_type_v2 arguments are not a tuple');
    return func.call!(inner);
  }));
  for (const [name, dtype] of Object.entries(STORAGE_DTYPES)) add(new StorageType(dtype, name));
  return m;
}

function intTuple(v: PickleValue, what: string, path: string): number[] {
  if (!Array.isArray(v) || !v.every((d: PickleValue) => typeof d === 'number' && Number.isSafeInteger(d))) {
    throw new CheckpointError(path, 'bad_header', `${what} is not a tuple of integers`);
  }
  return [...(v as number[])];
}

function checkView(storage: TorchStorage, offset: number, shape: number[], stride: number[], path: string): void {
  if (shape.some((d) => d < 0)) throw new CheckpointError(path, 'bad_shape', `tensor of storage ${storage.key} has a negative size [${shape}]`);
  if (stride.some((s) => s < 0)) throw new CheckpointError(path, 'bad_shape', `tensor of storage ${storage.key} has negative strides [${stride}], not supported`);
  if (shape.some((d) => d === 0)) return;
  let last = offset;
  for (let d = 0; d < shape.length; d++) last += (shape[d] - 1) * stride[d];
  if (last >= storage.numel) {
    throw new CheckpointError(path, 'bad_shape', `tensor view (offset ${offset}, size [${shape}], stride [${stride}]) reaches element ${last} of the ${storage.numel}-element storage ${storage.key}`);
  }
}

/** Strided view → contiguous copy, element by element (odometer over the shape). */
function gather(src: Uint8Array, es: number, offset: number, shape: readonly number[], stride: readonly number[]): Uint8Array {
  const n = shape.reduce((a, b) => a * b, 1);
  const out = new Uint8Array(n * es);
  const idx = new Array<number>(shape.length).fill(0);
  let at = offset;
  for (let i = 0; i < n; i++) {
    out.set(src.subarray(at * es, at * es + es), i * es);
    for (let d = shape.length - 1; d >= 0; d--) {
      idx[d]++;
      at += stride[d];
      if (idx[d] < shape[d]) break;
      at -= stride[d] * shape[d];
      idx[d] = 0;
    }
  }
  return out;
}

// ---------------------------------------------------------------- sniffing

function readHead(path: string, n: number): Uint8Array {
  const fd = openCheckpointFile(path);
  try {
    const size = fstatSync(fd).size;
    const buf = Buffer.alloc(Math.min(n, size));
    if (buf.length > 0) readSync(fd, buf, 0, buf.length, 0);
    if (size === 0) throw new CheckpointError(path, 'truncated', 'file is empty');
    return buf;
  } finally {
    closeSync(fd);
  }
}

/** u64 header length, then a JSON object: the safetensors signature. */
function looksLikeSafetensors(head: Uint8Array): boolean {
  if (head.length < 10) return false;
  const len = Buffer.from(head.buffer, head.byteOffset, head.length).readBigUInt64LE(0);
  return len >= 2n && len < 100_000_000n && head[8] === 0x7b;
}

function latin1(b: Uint8Array): string {
  return Buffer.from(b.buffer, b.byteOffset, b.length).toString('latin1');
}
