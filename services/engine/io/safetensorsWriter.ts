/**
 * Streaming safetensors writer: the header first (offsets known from shapes),
 * then each tensor's bytes produced and written one at a time, so a
 * multi-gigabyte file (a LoRA-merged shard, a benchmark's random full-size
 * UNet) never has to exist in memory whole.
 *
 * Two entry points share one layout: `writeSafetensorsFile` for tensors whose
 * bytes are at hand, `writeSafetensorsFileAsync` for tensors produced
 * asynchronously (a LoRA merge awaits its GEMM session per tensor). The file
 * is written under a temporary name and renamed into place, so a reader never
 * sees half a file; a failed write removes the temporary file.
 */
import { closeSync, openSync, renameSync, rmSync, writeSync } from 'node:fs';
import { DTYPE_BYTES, type SafetensorsDtype } from './safetensors.ts';

export interface TensorToWrite {
  name: string;
  dtype: SafetensorsDtype;
  shape: number[];
  /** Produces exactly the tensor's little-endian bytes. Called once, in file order. */
  bytes: () => Uint8Array;
}

/** A tensor whose bytes may be produced asynchronously; otherwise as TensorToWrite. */
export interface TensorToWriteAsync extends Omit<TensorToWrite, 'bytes'> {
  /** Produces exactly the tensor's little-endian bytes. Called once, in file order, after the previous tensor is written. */
  bytes: () => Uint8Array | Promise<Uint8Array>;
}

type TensorLayout = Pick<TensorToWrite, 'name' | 'dtype' | 'shape'>;

export function writeSafetensorsFile(path: string, tensors: TensorToWrite[], metadata?: Record<string, string>): void {
  const file = openForWriting(path, tensors, metadata);
  try {
    for (const t of tensors) writeTensor(file.fd, t, t.bytes());
  } catch (e) {
    file.abandon();
    throw e;
  }
  file.commit();
}

export async function writeSafetensorsFileAsync(path: string, tensors: TensorToWriteAsync[], metadata?: Record<string, string>): Promise<void> {
  const file = openForWriting(path, tensors, metadata);
  try {
    for (const t of tensors) writeTensor(file.fd, t, await t.bytes());
  } catch (e) {
    file.abandon();
    throw e;
  }
  file.commit();
}

function byteLength(t: TensorLayout): number {
  return t.shape.reduce((a, b) => a * b, 1) * DTYPE_BYTES[t.dtype];
}

/** Opens the temporary file and writes the header; `commit` renames it into place, `abandon` removes it. */
function openForWriting(path: string, tensors: TensorLayout[], metadata: Record<string, string> | undefined) {
  const header: Record<string, unknown> = metadata ? { __metadata__: metadata } : {};
  let offset = 0;
  for (const t of tensors) {
    const length = byteLength(t);
    header[t.name] = { dtype: t.dtype, shape: t.shape, data_offsets: [offset, offset + length] };
    offset += length;
  }
  let json = JSON.stringify(header);
  // Pad to 8 bytes so every tensor stays aligned for zero-copy typed views.
  json += ' '.repeat((8 - (Buffer.byteLength(json) % 8)) % 8);
  const tmp = `${path}.${process.pid}.tmp`;
  const fd = openSync(tmp, 'w');
  const abandon = () => {
    closeSync(fd);
    rmSync(tmp, { force: true });
  };
  try {
    const len = Buffer.alloc(8);
    len.writeBigUInt64LE(BigInt(Buffer.byteLength(json)));
    writeSync(fd, len);
    writeSync(fd, Buffer.from(json));
  } catch (e) {
    abandon();
    throw e;
  }
  return {
    fd,
    abandon,
    commit: () => {
      closeSync(fd);
      renameSync(tmp, path);
    },
  };
}

function writeTensor(fd: number, t: TensorLayout, data: Uint8Array): void {
  const want = byteLength(t);
  if (data.byteLength !== want) throw new Error(`${t.name}: produced ${data.byteLength} bytes, shape [${t.shape}] ${t.dtype} needs ${want}`);
  let done = 0;
  while (done < data.byteLength) done += writeSync(fd, data, done, Math.min(data.byteLength - done, 1 << 30));
}
