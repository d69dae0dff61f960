/**
 * safetensors reader.
 *
 * Format (huggingface/safetensors): u64 LE header length N, N bytes of JSON
 * `{name: {dtype, shape, data_offsets:[b,e]}, __metadata__?}`, then the data.
 * A tensor lives at absolute offset 8+N+b.
 *
 * Design: the header is parsed with positional reads only; tensor bytes are
 * read on demand with one pread into a buffer the caller owns (files larger
 * than 4 GB never need to fit one Buffer). The absolute byte ranges are
 * exposed because the ONNX graphs point their external data straight into the
 * checkpoint file, so weights are normally never read by JS at all.
 * Every malformed file ends in a CheckpointError naming file and reason.
 */
import { closeSync, fstatSync } from 'node:fs';
import { CheckpointError } from './engineErrors.ts';
import { halfToFloat } from './half.ts';
import { openCheckpointFile, readFully } from './positionalReads.ts';

export type SafetensorsDtype = 'F64' | 'F32' | 'F16' | 'BF16' | 'I64' | 'I32' | 'I16' | 'I8' | 'U8' | 'BOOL';

/** Bytes per element of each dtype (shared by the torch reader and the writer). */
export const DTYPE_BYTES: Record<SafetensorsDtype, number> = {
  F64: 8, F32: 4, F16: 2, BF16: 2, I64: 8, I32: 4, I16: 2, I8: 1, U8: 1, BOOL: 1,
};

/** Where one tensor's bytes are, and what they are. */
export interface TensorInfo {
  name: string;
  dtype: SafetensorsDtype;
  shape: number[];
  /** Absolute byte offset in the file. */
  offset: number;
  byteLength: number;
}

export type TensorData =
  | Float32Array | Float64Array | Uint16Array | BigInt64Array | Int32Array | Int16Array | Int8Array | Uint8Array;

export interface LoadedTensor {
  name: string;
  dtype: SafetensorsDtype;
  shape: number[];
  /** F16/BF16 come back as raw Uint16Array bits; use toFloat32 for values. */
  data: TensorData;
}

/** Largest header we accept (the real files have ~100 KB; a bogus length must not allocate GBs). */
const MAX_HEADER_BYTES = 100 * 1024 * 1024;

export class SafetensorsFile {
  readonly tensors: ReadonlyMap<string, TensorInfo>;
  readonly metadata: Record<string, string>;
  readonly size: number;
  private fd: number | null;

  private constructor(readonly path: string, fd: number, size: number, tensors: Map<string, TensorInfo>, metadata: Record<string, string>) {
    this.fd = fd;
    this.size = size;
    this.tensors = tensors;
    this.metadata = metadata;
  }

  static open(path: string): SafetensorsFile {
    const fd = openCheckpointFile(path);
    try {
      const size = fstatSync(fd).size;
      if (size < 8) throw new CheckpointError(path, 'truncated', `file is ${size} bytes, shorter than the 8-byte header length`);
      const lenBuf = Buffer.alloc(8);
      readFully(fd, lenBuf, 0, path);
      const headerLen = lenBuf.readBigUInt64LE(0);
      if (headerLen < 2n || headerLen > BigInt(MAX_HEADER_BYTES)) {
        throw new CheckpointError(path, 'bad_header', `header length ${headerLen} is not plausible (not a safetensors file?)`);
      }
      const n = Number(headerLen);
      if (8 + n > size) throw new CheckpointError(path, 'truncated', `header of ${n} bytes runs past the end of the ${size}-byte file`);
      const headerBuf = Buffer.alloc(n);
      readFully(fd, headerBuf, 8, path);
      let header: Record<string, unknown>;
      try {
        const text = headerBuf.toString('utf8');
        if (!text.trimStart().startsWith('{')) throw new Error('header does not start with {');
        header = JSON.parse(text) as Record<string, unknown>;
      } catch (e) {
        throw new CheckpointError(path, 'bad_header', `header is not valid JSON: ${(e as Error).message}`, { cause: e });
      }
      const dataStart = 8 + n;
      const tensors = new Map<string, TensorInfo>();
      let metadata: Record<string, string> = {};
      for (const [name, raw] of Object.entries(header)) {
        if (name === '__metadata__') {
          metadata = (raw ?? {}) as Record<string, string>;
          continue;
        }
        tensors.set(name, parseEntry(path, name, raw, dataStart, size));
      }
      return new SafetensorsFile(path, fd, size, tensors, metadata);
    } catch (e) {
      closeSync(fd);
      throw e;
    }
  }

  has(name: string): boolean {
    return this.tensors.has(name);
  }

  info(name: string): TensorInfo {
    const t = this.tensors.get(name);
    if (!t) throw new CheckpointError(this.path, 'missing_tensor', `tensor ${name} is missing`);
    return t;
  }

  /** Raw little-endian bytes of one tensor (one read, no further copies). */
  bytes(name: string): Buffer {
    const t = this.info(name);
    const buf = Buffer.allocUnsafe(t.byteLength);
    readFully(this.fdOrThrow(), buf, t.offset, this.path);
    return buf;
  }

  tensor(name: string): LoadedTensor {
    const t = this.info(name);
    const b = this.bytes(name);
    return { name, dtype: t.dtype, shape: t.shape, data: tensorDataView(t.dtype, b) };
  }

  /** Values as float32 whatever the stored float type (F16/BF16 upcast exactly). */
  float32(name: string): Float32Array {
    const t = this.tensor(name);
    return toFloat32(t.dtype, t.data);
  }

  close(): void {
    if (this.fd !== null) {
      closeSync(this.fd);
      this.fd = null;
    }
  }

  private fdOrThrow(): number {
    if (this.fd === null) throw new Error(`${this.path}: file already closed`);
    return this.fd;
  }
}

export function openSafetensors(path: string): SafetensorsFile {
  return SafetensorsFile.open(path);
}

function parseEntry(path: string, name: string, raw: unknown, dataStart: number, size: number): TensorInfo {
  const e = raw as { dtype?: unknown; shape?: unknown; data_offsets?: unknown };
  if (!e || typeof e !== 'object') throw new CheckpointError(path, 'bad_header', `entry ${name} is not an object`);
  const dtype = e.dtype as SafetensorsDtype;
  if (typeof dtype !== 'string' || !(dtype in DTYPE_BYTES)) {
    throw new CheckpointError(path, 'unsupported_dtype', `tensor ${name} has dtype ${String(e.dtype)}`);
  }
  const shape = e.shape;
  const offs = e.data_offsets;
  if (!Array.isArray(shape) || !shape.every((d) => Number.isInteger(d) && d >= 0)) {
    throw new CheckpointError(path, 'bad_header', `tensor ${name} has an invalid shape`);
  }
  if (!Array.isArray(offs) || offs.length !== 2 || !offs.every((d) => Number.isSafeInteger(d) && d >= 0) || offs[1] < offs[0]) {
    throw new CheckpointError(path, 'bad_header', `tensor ${name} has invalid data_offsets`);
  }
  const count = (shape as number[]).reduce((a, b) => a * b, 1);
  const byteLength = offs[1] - offs[0];
  if (count * DTYPE_BYTES[dtype] !== byteLength) {
    throw new CheckpointError(path, 'bad_header', `tensor ${name}: ${byteLength} bytes do not hold shape [${shape.join(',')}] of ${dtype}`);
  }
  const offset = dataStart + offs[0];
  if (offset + byteLength > size) {
    throw new CheckpointError(path, 'truncated', `tensor ${name} ends at byte ${offset + byteLength}, past the end of the ${size}-byte file`);
  }
  return { name, dtype, shape: shape as number[], offset, byteLength };
}

/** A typed view of little-endian tensor bytes (F16/BF16 as raw Uint16Array bits). */
export function tensorDataView(dtype: SafetensorsDtype, b: Uint8Array): TensorData {
  // Buffer.allocUnsafe may hand out a pooled slice, and zip entries may start
  // at any offset of their buffer; typed views need alignment, so copy then only.
  const bytes = DTYPE_BYTES[dtype];
  const aligned = b.byteOffset % bytes === 0 ? b : new Uint8Array(b);
  const ab = aligned.buffer;
  const off = aligned.byteOffset;
  const n = aligned.byteLength / bytes;
  switch (dtype) {
    case 'F32': return new Float32Array(ab, off, n);
    case 'F64': return new Float64Array(ab, off, n);
    case 'F16': case 'BF16': return new Uint16Array(ab, off, n);
    case 'I64': return new BigInt64Array(ab, off, n);
    case 'I32': return new Int32Array(ab, off, n);
    case 'I16': return new Int16Array(ab, off, n);
    case 'I8': return new Int8Array(ab, off, n);
    case 'U8': case 'BOOL': return new Uint8Array(ab, off, n);
  }
}

export function toFloat32(dtype: SafetensorsDtype, data: TensorData): Float32Array {
  if (dtype === 'F32') return data as Float32Array;
  const out = new Float32Array(data.length);
  if (dtype === 'F16') {
    const d = data as Uint16Array;
    for (let i = 0; i < d.length; i++) out[i] = halfToFloat(d[i]);
  } else if (dtype === 'BF16') {
    const d = data as Uint16Array;
    const u = new Uint32Array(out.buffer);
    for (let i = 0; i < d.length; i++) u[i] = d[i] << 16;
  } else if (dtype === 'I64') {
    const d = data as BigInt64Array;
    for (let i = 0; i < d.length; i++) out[i] = Number(d[i]);
  } else {
    const d = data as ArrayLike<number>;
    for (let i = 0; i < d.length; i++) out[i] = d[i];
  }
  return out;
}
