/**
 * Writes small .safetensors files for tests: synthetic checkpoints with chosen
 * keys and shapes, and deliberately malformed files. Tensor bytes are zeros
 * unless given. Kept out of io/ proper because production code only reads
 * checkpoints.
 */
import { writeFileSync } from 'node:fs';
import { DTYPE_BYTES, type SafetensorsDtype } from '../safetensors.ts';

export interface FixtureTensor {
  name: string;
  dtype: SafetensorsDtype;
  shape: number[];
  /** Raw little-endian bytes; zeros when omitted. */
  data?: Uint8Array;
}

/** Encodes tensors in file order with a space-padded header, as the reference writer does. */
export function encodeSafetensors(tensors: FixtureTensor[], metadata?: Record<string, string>): Buffer {
  const header: Record<string, unknown> = metadata ? { __metadata__: metadata } : {};
  const chunks: Uint8Array[] = [];
  let offset = 0;
  for (const t of tensors) {
    const length = t.shape.reduce((a, b) => a * b, 1) * DTYPE_BYTES[t.dtype];
    const data = t.data ?? new Uint8Array(length);
    if (data.byteLength !== length) throw new Error(`${t.name}: ${data.byteLength} bytes for shape [${t.shape}] ${t.dtype}`);
    header[t.name] = { dtype: t.dtype, shape: t.shape, data_offsets: [offset, offset + length] };
    chunks.push(data);
    offset += length;
  }
  let json = JSON.stringify(header);
  json += ' '.repeat((8 - (json.length % 8)) % 8);
  const len = Buffer.alloc(8);
  len.writeBigUInt64LE(BigInt(Buffer.byteLength(json)));
  return Buffer.concat([len, Buffer.from(json), ...chunks]);
}

export function writeSafetensors(path: string, tensors: FixtureTensor[], metadata?: Record<string, string>): string {
  writeFileSync(path, encodeSafetensors(tensors, metadata));
  return path;
}

/** float32 values as raw bytes for FixtureTensor.data. */
export function f32Bytes(values: ArrayLike<number>): Uint8Array {
  return new Uint8Array(Float32Array.from(values).buffer);
}
