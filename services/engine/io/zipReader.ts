/**
 * Read-only zip archive access, enough for PyTorch's `torch.save` files.
 *
 * torch writes its archives with miniz: every entry "stored" (method 0),
 * data aligned to 64 bytes through padding in the local header's extra
 * field, ZIP64 records once an entry or the archive passes 4 GB. Other
 * writers (re-zipped files, `zip -r`) may deflate (method 8); both are read.
 *
 * Design: the central directory is the only index trusted (local headers are
 * read just to skip their variable-length name and extra field), reads are
 * positional on one descriptor, and every inconsistency ends in a
 * CheckpointError naming the file: a download cut short loses the end of
 * central directory record, so it surfaces as `truncated`, not as a hang or
 * a RangeError deep in a parser. CRC-32 is checked when Node has
 * `zlib.crc32` (20.15+), so a corrupted storage is refused rather than
 * turned into silent garbage weights.
 */
import { closeSync, fstatSync } from 'node:fs';
import { constants as bufferConstants } from 'node:buffer';
import * as zlib from 'node:zlib';
import { CheckpointError } from './engineErrors.ts';
import { openCheckpointFile, readFully } from './positionalReads.ts';

export interface ZipEntry {
  name: string;
  /** 0 = stored, 8 = deflate. */
  method: number;
  compressedSize: number;
  size: number;
  crc32: number;
  /** Offset of the entry's local file header. */
  localHeaderOffset: number;
}

const SIG_LOCAL = 0x04034b50;
const SIG_CENTRAL = 0x02014b50;
const SIG_EOCD = 0x06054b50;
const SIG_ZIP64_EOCD = 0x06064b50;
const SIG_ZIP64_LOCATOR = 0x07064b50;
/** EOCD is 22 bytes plus a comment of at most 65535. */
const EOCD_SEARCH = 22 + 0xffff;

/** Node's largest Buffer (4 GB on Node 20): one torch storage must fit. */
const MAX_ENTRY_BYTES = bufferConstants.MAX_LENGTH;

const crc32: ((data: Uint8Array) => number) | undefined = (zlib as { crc32?: (data: Uint8Array) => number }).crc32;

export class ZipArchive {
  private fd: number | null;

  private constructor(
    readonly path: string,
    fd: number,
    readonly size: number,
    readonly entries: ReadonlyMap<string, ZipEntry>,
  ) {
    this.fd = fd;
  }

  static open(path: string): ZipArchive {
    const fd = openCheckpointFile(path);
    try {
      const size = fstatSync(fd).size;
      return new ZipArchive(path, fd, size, readCentralDirectory(path, fd, size));
    } catch (e) {
      closeSync(fd);
      throw e;
    }
  }

  has(name: string): boolean {
    return this.entries.has(name);
  }

  /** The entry's uncompressed bytes, CRC-checked. */
  read(name: string): Buffer {
    const e = this.entries.get(name);
    if (!e) throw new CheckpointError(this.path, 'bad_header', `zip entry ${name} is missing`);
    if (Math.max(e.size, e.compressedSize) > MAX_ENTRY_BYTES) {
      throw new CheckpointError(this.path, 'bad_header', `zip entry ${name} holds ${Math.max(e.size, e.compressedSize)} bytes, more than one buffer can hold (${MAX_ENTRY_BYTES})`);
    }
    const start = this.dataOffset(e);
    const raw = Buffer.allocUnsafe(e.compressedSize);
    readFully(this.fdOrThrow(), raw, start, this.path);
    let data: Buffer;
    if (e.method === 0) {
      if (e.compressedSize !== e.size) throw new CheckpointError(this.path, 'bad_header', `stored zip entry ${name} has different compressed and plain sizes`);
      data = raw;
    } else if (e.method === 8) {
      try {
        data = zlib.inflateRawSync(raw);
      } catch (err) {
        throw new CheckpointError(this.path, 'truncated', `zip entry ${name} does not inflate: ${(err as Error).message}`, { cause: err });
      }
      if (data.length !== e.size) throw new CheckpointError(this.path, 'truncated', `zip entry ${name} inflates to ${data.length} bytes, expected ${e.size}`);
    } else {
      throw new CheckpointError(this.path, 'bad_header', `zip entry ${name} uses compression method ${e.method} (only stored and deflate are supported)`);
    }
    if (crc32 && (crc32(data) >>> 0) !== e.crc32) throw new CheckpointError(this.path, 'bad_header', `zip entry ${name} fails its CRC-32 check (corrupted file)`);
    return data;
  }

  /** Absolute offset of an entry's data (for stored entries: its bytes as they lie in the file). */
  dataOffset(e: ZipEntry): number {
    const h = Buffer.alloc(30);
    readFully(this.fdOrThrow(), h, e.localHeaderOffset, this.path);
    if (h.readUInt32LE(0) !== SIG_LOCAL) throw new CheckpointError(this.path, 'bad_header', `zip entry ${e.name}: no local header at ${e.localHeaderOffset}`);
    const start = e.localHeaderOffset + 30 + h.readUInt16LE(26) + h.readUInt16LE(28);
    if (start + e.compressedSize > this.size) {
      throw new CheckpointError(this.path, 'truncated', `zip entry ${e.name} ends at byte ${start + e.compressedSize}, past the end of the ${this.size}-byte file`);
    }
    return start;
  }

  close(): void {
    if (this.fd !== null) {
      closeSync(this.fd);
      this.fd = null;
    }
  }

  private fdOrThrow(): number {
    if (this.fd === null) throw new Error(`${this.path}: zip archive already closed`);
    return this.fd;
  }
}

/** True when the first bytes are a zip local header (a torch zip pickle or any zip). */
export function looksLikeZip(head: Uint8Array): boolean {
  return head.length >= 4 && head[0] === 0x50 && head[1] === 0x4b && head[2] === 0x03 && head[3] === 0x04;
}

function readCentralDirectory(path: string, fd: number, size: number): Map<string, ZipEntry> {
  const tailLen = Math.min(size, EOCD_SEARCH);
  const tail = Buffer.alloc(tailLen);
  readFully(fd, tail, size - tailLen, path);
  let eocd = -1;
  for (let i = tailLen - 22; i >= 0; i--) {
    if (tail.readUInt32LE(i) === SIG_EOCD) {
      eocd = i;
      break;
    }
  }
  if (eocd < 0) {
    const head = Buffer.alloc(Math.min(4, size));
    readFully(fd, head, 0, path);
    throw looksLikeZip(head)
      ? new CheckpointError(path, 'truncated', 'zip archive has no end-of-central-directory record (download cut short?)')
      : new CheckpointError(path, 'bad_header', 'not a zip archive');
  }
  let count = tail.readUInt16LE(eocd + 10);
  let cdSize = tail.readUInt32LE(eocd + 12);
  let cdOffset = tail.readUInt32LE(eocd + 16);
  const eocdAbs = size - tailLen + eocd;
  if (count === 0xffff || cdSize === 0xffffffff || cdOffset === 0xffffffff) {
    // ZIP64: the locator sits right before the EOCD and points at the ZIP64 EOCD record.
    const loc = Buffer.alloc(20);
    if (eocdAbs < 20) throw new CheckpointError(path, 'bad_header', 'ZIP64 archive without a ZIP64 locator');
    readFully(fd, loc, eocdAbs - 20, path);
    if (loc.readUInt32LE(0) !== SIG_ZIP64_LOCATOR) throw new CheckpointError(path, 'bad_header', 'ZIP64 archive without a ZIP64 locator');
    const recOffset = safeNumber(loc.readBigUInt64LE(8), path, 'ZIP64 EOCD offset');
    const rec = Buffer.alloc(56);
    if (recOffset + 56 > size) throw new CheckpointError(path, 'truncated', 'ZIP64 end-of-central-directory record lies past the end of the file');
    readFully(fd, rec, recOffset, path);
    if (rec.readUInt32LE(0) !== SIG_ZIP64_EOCD) throw new CheckpointError(path, 'bad_header', 'bad ZIP64 end-of-central-directory record');
    count = safeNumber(rec.readBigUInt64LE(32), path, 'entry count');
    cdSize = safeNumber(rec.readBigUInt64LE(40), path, 'central directory size');
    cdOffset = safeNumber(rec.readBigUInt64LE(48), path, 'central directory offset');
  }
  if (cdOffset + cdSize > size) throw new CheckpointError(path, 'truncated', `central directory (${cdOffset}+${cdSize}) lies past the end of the ${size}-byte file`);
  const cd = Buffer.alloc(cdSize);
  readFully(fd, cd, cdOffset, path);
  const entries = new Map<string, ZipEntry>();
  let p = 0;
  for (let i = 0; i < count; i++) {
    if (p + 46 > cd.length || cd.readUInt32LE(p) !== SIG_CENTRAL) throw new CheckpointError(path, 'bad_header', `central directory entry ${i} is malformed`);
    const flags = cd.readUInt16LE(p + 8);
    const method = cd.readUInt16LE(p + 10);
    const crc = cd.readUInt32LE(p + 16);
    let compressedSize = cd.readUInt32LE(p + 20);
    let plainSize = cd.readUInt32LE(p + 24);
    const nameLen = cd.readUInt16LE(p + 28);
    const extraLen = cd.readUInt16LE(p + 30);
    const commentLen = cd.readUInt16LE(p + 32);
    let localHeaderOffset = cd.readUInt32LE(p + 42);
    if (p + 46 + nameLen + extraLen + commentLen > cd.length) throw new CheckpointError(path, 'bad_header', `central directory entry ${i} runs past the directory`);
    if (flags & 1) throw new CheckpointError(path, 'bad_header', 'encrypted zip entries are not supported');
    const name = cd.toString('utf8', p + 46, p + 46 + nameLen);
    // ZIP64 extended information: only the fields whose 32-bit value is saturated are present, in this order.
    let x = p + 46 + nameLen;
    const xEnd = x + extraLen;
    while (x + 4 <= xEnd) {
      const id = cd.readUInt16LE(x);
      const len = cd.readUInt16LE(x + 2);
      if (id === 0x0001) {
        let f = x + 4;
        const next = (what: string) => {
          if (f + 8 > x + 4 + len) throw new CheckpointError(path, 'bad_header', `ZIP64 extra field of ${name} lacks the ${what}`);
          const v = safeNumber(cd.readBigUInt64LE(f), path, what);
          f += 8;
          return v;
        };
        if (plainSize === 0xffffffff) plainSize = next('size');
        if (compressedSize === 0xffffffff) compressedSize = next('compressed size');
        if (localHeaderOffset === 0xffffffff) localHeaderOffset = next('local header offset');
      }
      x += 4 + len;
    }
    entries.set(name, { name, method, compressedSize, size: plainSize, crc32: crc, localHeaderOffset });
    p += 46 + nameLen + extraLen + commentLen;
  }
  return entries;
}

function safeNumber(v: bigint, path: string, what: string): number {
  if (v > BigInt(Number.MAX_SAFE_INTEGER)) throw new CheckpointError(path, 'bad_header', `${what} ${v} is not plausible`);
  return Number(v);
}
