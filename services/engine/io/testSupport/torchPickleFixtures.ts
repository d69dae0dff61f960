/**
 * Builds PyTorch-style files for the torch pickle reader's tests: pickles
 * written opcode by opcode (so hostile ones need no Python), torch zip
 * archives (stored or deflated entries, optionally with ZIP64 records) and
 * the legacy non-zip layout. Test-only: production code never writes pickles.
 */
import { deflateRawSync } from 'node:zlib';
import * as zlib from 'node:zlib';

/** An opcode-level pickle emitter (protocol 2 unless told otherwise). */
export class PickleWriter {
  private parts: number[] = [];

  op(...bytes: number[]): this {
    this.parts.push(...bytes);
    return this;
  }

  proto(n = 2): this {
    return this.op(0x80, n);
  }

  global(module: string, name: string): this {
    return this.op(0x63, ...ascii(`${module}\n${name}\n`));
  }

  /** Protocol 4 STACK_GLOBAL with both names as SHORT_BINUNICODE. */
  stackGlobal(module: string, name: string): this {
    return this.str(module).str(name).op(0x93);
  }

  str(s: string): this {
    const b = Buffer.from(s, 'utf8');
    return this.op(0x58, ...u32(b.length), ...b);
  }

  int(n: number): this {
    if (n >= 0 && n < 256) return this.op(0x4b, n);
    if (n >= 0 && n < 65536) return this.op(0x4d, n & 0xff, n >> 8);
    return this.op(0x4a, ...u32(n >>> 0));
  }

  bool(b: boolean): this {
    return this.op(b ? 0x88 : 0x89);
  }

  none(): this {
    return this.op(0x4e);
  }

  mark(): this {
    return this.op(0x28);
  }

  tuple(): this {
    return this.op(0x74);
  }

  emptyTuple(): this {
    return this.op(0x29);
  }

  emptyDict(): this {
    return this.op(0x7d);
  }

  emptyList(): this {
    return this.op(0x5d);
  }

  reduce(): this {
    return this.op(0x52);
  }

  setitem(): this {
    return this.op(0x73);
  }

  binpersid(): this {
    return this.op(0x51);
  }

  stop(): this {
    return this.op(0x2e);
  }

  /** A tuple of small ints. */
  ints(values: number[]): this {
    this.mark();
    for (const v of values) this.int(v);
    return this.tuple();
  }

  /** `collections.OrderedDict()` */
  orderedDict(): this {
    return this.global('collections', 'OrderedDict').emptyTuple().reduce();
  }

  bytes(): Buffer {
    return Buffer.from(this.parts);
  }
}

export interface FixtureStorage {
  key: string;
  /** torch storage class name, e.g. FloatStorage. */
  type: string;
  numel: number;
  data: Uint8Array;
}

export interface FixtureTensorRef {
  name: string;
  storage: FixtureStorage;
  offset: number;
  shape: number[];
  stride: number[];
}

/**
 * `OrderedDict([(name, _rebuild_tensor_v2(storage, offset, shape, stride, False, OrderedDict())), ...])`,
 * as torch.save writes a state dict; `legacyView` adds the legacy sixth pid field (None).
 */
export function stateDictPickle(tensors: FixtureTensorRef[], opts: { legacy?: boolean; after?: (w: PickleWriter) => void } = {}): Buffer {
  const w = new PickleWriter().proto(2).orderedDict();
  for (const t of tensors) {
    w.str(t.name).global('torch._utils', '_rebuild_tensor_v2').mark();
    w.mark().str('storage').global('torch', t.storage.type).str(t.storage.key).str('cpu').int(t.storage.numel);
    if (opts.legacy) w.none();
    w.tuple().binpersid();
    w.int(t.offset).ints(t.shape).ints(t.stride).bool(false).orderedDict().tuple().reduce().setitem();
  }
  opts.after?.(w);
  return w.stop().bytes();
}

export interface ZipFixtureEntry {
  name: string;
  data: Uint8Array;
  deflate?: boolean;
}

/** A zip with a central directory; `zip64` writes ZIP64 extra fields and end records (with saturated 32-bit fields). */
export function zipArchive(entries: ZipFixtureEntry[], opts: { zip64?: boolean; badCrc?: string } = {}): Buffer {
  const chunks: Buffer[] = [];
  const central: Buffer[] = [];
  let offset = 0;
  for (const e of entries) {
    const name = Buffer.from(e.name, 'utf8');
    const stored = e.deflate ? deflateRawSync(e.data) : Buffer.from(e.data);
    let crc = crc32(e.data);
    if (opts.badCrc === e.name) crc = (crc ^ 1) >>> 0;
    const local = Buffer.alloc(30);
    local.writeUInt32LE(0x04034b50, 0);
    local.writeUInt16LE(opts.zip64 ? 45 : 20, 4);
    local.writeUInt16LE(e.deflate ? 8 : 0, 8);
    local.writeUInt32LE(crc, 14);
    local.writeUInt32LE(stored.length, 18);
    local.writeUInt32LE(e.data.length, 22);
    local.writeUInt16LE(name.length, 26);
    local.writeUInt16LE(0, 28);
    const cd = Buffer.alloc(46);
    cd.writeUInt32LE(0x02014b50, 0);
    cd.writeUInt16LE(45, 4);
    cd.writeUInt16LE(opts.zip64 ? 45 : 20, 6);
    cd.writeUInt16LE(e.deflate ? 8 : 0, 10);
    cd.writeUInt32LE(crc, 16);
    let extra = Buffer.alloc(0);
    if (opts.zip64) {
      cd.writeUInt32LE(0xffffffff, 20);
      cd.writeUInt32LE(0xffffffff, 24);
      cd.writeUInt32LE(0xffffffff, 42);
      extra = Buffer.alloc(4 + 24);
      extra.writeUInt16LE(1, 0);
      extra.writeUInt16LE(24, 2);
      extra.writeBigUInt64LE(BigInt(e.data.length), 4);
      extra.writeBigUInt64LE(BigInt(stored.length), 12);
      extra.writeBigUInt64LE(BigInt(offset), 20);
    } else {
      cd.writeUInt32LE(stored.length, 20);
      cd.writeUInt32LE(e.data.length, 24);
      cd.writeUInt32LE(offset, 42);
    }
    cd.writeUInt16LE(name.length, 28);
    cd.writeUInt16LE(extra.length, 30);
    central.push(cd, name, extra);
    chunks.push(local, name, stored);
    offset += local.length + name.length + stored.length;
  }
  const cdBuf = Buffer.concat(central);
  const cdOffset = offset;
  const tail: Buffer[] = [];
  if (opts.zip64) {
    const rec = Buffer.alloc(56);
    rec.writeUInt32LE(0x06064b50, 0);
    rec.writeBigUInt64LE(44n, 4);
    rec.writeUInt16LE(45, 12);
    rec.writeUInt16LE(45, 14);
    rec.writeBigUInt64LE(BigInt(entries.length), 24);
    rec.writeBigUInt64LE(BigInt(entries.length), 32);
    rec.writeBigUInt64LE(BigInt(cdBuf.length), 40);
    rec.writeBigUInt64LE(BigInt(cdOffset), 48);
    const loc = Buffer.alloc(20);
    loc.writeUInt32LE(0x07064b50, 0);
    loc.writeBigUInt64LE(BigInt(cdOffset + cdBuf.length), 8);
    loc.writeUInt32LE(1, 16);
    tail.push(rec, loc);
  }
  const eocd = Buffer.alloc(22);
  eocd.writeUInt32LE(0x06054b50, 0);
  eocd.writeUInt16LE(opts.zip64 ? 0xffff : entries.length, 8);
  eocd.writeUInt16LE(opts.zip64 ? 0xffff : entries.length, 10);
  eocd.writeUInt32LE(opts.zip64 ? 0xffffffff : cdBuf.length, 12);
  eocd.writeUInt32LE(opts.zip64 ? 0xffffffff : cdOffset, 16);
  return Buffer.concat([...chunks, cdBuf, ...tail, eocd]);
}

/** `<root>/data.pkl`, `<root>/data/<key>`, `<root>/version`, as torch.save lays them out. */
export function torchZip(root: string, pickle: Uint8Array, storages: FixtureStorage[], opts: { deflate?: boolean; zip64?: boolean; badCrc?: string } = {}): Buffer {
  const entries: ZipFixtureEntry[] = [{ name: `${root}/data.pkl`, data: pickle, deflate: opts.deflate }];
  const seen = new Set<string>();
  for (const s of storages) {
    if (seen.has(s.key)) continue;
    seen.add(s.key);
    entries.push({ name: `${root}/data/${s.key}`, data: s.data, deflate: opts.deflate });
  }
  entries.push({ name: `${root}/version`, data: Buffer.from('3\n') });
  return zipArchive(entries, opts);
}

/** The legacy (non-zip) torch.save layout: magic, protocol, sys_info, data pickle, key list, storages. */
export function legacyTorchFile(pickle: Uint8Array, storages: FixtureStorage[]): Buffer {
  // LONG1 0x1950a86a20f9469cfc6c (10 bytes little-endian).
  const magic = new PickleWriter().proto(2).op(0x8a, 10, 0x6c, 0xfc, 0x9c, 0x46, 0xf9, 0x20, 0x6a, 0xa8, 0x50, 0x19).stop().bytes();
  const protocol = new PickleWriter().proto(2).int(1001).stop().bytes();
  const sysInfo = new PickleWriter().proto(2).emptyDict().str('protocol_version').int(1001).setitem().str('little_endian').bool(true).setitem().stop().bytes();
  const keys = new PickleWriter().proto(2).emptyList().mark();
  const unique = [...new Map(storages.map((s) => [s.key, s])).values()];
  for (const s of unique) keys.str(s.key);
  keys.op(0x65).stop(); // APPENDS
  const data: Buffer[] = [];
  for (const s of unique) {
    const n = Buffer.alloc(8);
    n.writeBigInt64LE(BigInt(s.numel));
    data.push(n, Buffer.from(s.data));
  }
  return Buffer.concat([magic, protocol, sysInfo, Buffer.from(pickle), keys.bytes(), ...data]);
}

export function float32Bytes(values: number[]): Uint8Array {
  return new Uint8Array(Float32Array.from(values).buffer);
}

function ascii(s: string): number[] {
  return [...Buffer.from(s, 'latin1')];
}

function u32(n: number): number[] {
  return [n & 0xff, (n >>> 8) & 0xff, (n >>> 16) & 0xff, (n >>> 24) & 0xff];
}

const CRC_TABLE = (() => {
  const t = new Uint32Array(256);
  for (let i = 0; i < 256; i++) {
    let c = i;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    t[i] = c >>> 0;
  }
  return t;
})();

function crc32(data: Uint8Array): number {
  const native = (zlib as { crc32?: (d: Uint8Array) => number }).crc32;
  if (native) return native(data) >>> 0;
  let c = 0xffffffff;
  for (const b of data) c = CRC_TABLE[(c ^ b) & 0xff] ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}
