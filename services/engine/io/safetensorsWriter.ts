/**
 * Streaming safetensors writer: the header first (offsets known from shapes),
 * then each tensor's bytes produced and written one at a time, so a
 * multi-gigabyte file (a LoRA-merged shard, a benchmark's random full-size
 * UNet) never has to exist in memory whole.
 */
import { closeSync, openSync, renameSync, writeSync } from 'node:fs';
import type { SafetensorsDtype } from './safetensors.ts';

const BYTES: Record<SafetensorsDtype, number> = { F64: 8, F32: 4, F16: 2, BF16: 2, I64: 8, I32: 4, I16: 2, I8: 1, U8: 1, BOOL: 1 };

export interface TensorToWrite {
  name: string;
  dtype: SafetensorsDtype;
  shape: number[];
  /** Produces exactly the tensor's little-endian bytes. Called once, in file order. */
  bytes: () => Uint8Array;
}

export function writeSafetensorsFile(path: string, tensors: TensorToWrite[], metadata?: Record<string, string>): void {
  const header: Record<string, unknown> = metadata ? { __metadata__: metadata } : {};
  let offset = 0;
  for (const t of tensors) {
    const length = t.shape.reduce((a, b) => a * b, 1) * BYTES[t.dtype];
    header[t.name] = { dtype: t.dtype, shape: t.shape, data_offsets: [offset, offset + length] };
    offset += length;
  }
  let json = JSON.stringify(header);
  // Pad to 8 bytes so every tensor stays aligned for zero-copy typed views.
  json += ' '.repeat((8 - (Buffer.byteLength(json) % 8)) % 8);
  const tmp = `${path}.${process.pid}.tmp`;
  const fd = openSync(tmp, 'w');
  try {
    const len = Buffer.alloc(8);
    len.writeBigUInt64LE(BigInt(Buffer.byteLength(json)));
    writeSync(fd, len);
    writeSync(fd, Buffer.from(json));
    for (const t of tensors) {
      const want = t.shape.reduce((a, b) => a * b, 1) * BYTES[t.dtype];
      const data = t.bytes();
      if (data.byteLength !== want) throw new Error(`${t.name}: produced ${data.byteLength} bytes, shape [${t.shape}] ${t.dtype} needs ${want}`);
      let done = 0;
      while (done < data.byteLength) done += writeSync(fd, data, done, Math.min(data.byteLength - done, 1 << 30));
    }
  } finally {
    closeSync(fd);
  }
  renameSync(tmp, path);
}
