/**
 * WebP EXIF and XMP chunks (RIFF container, WebP spec "Extended File Format"). Metadata needs
 * the extended layout: a VP8X chunk first, whose flags announce EXIF (0x08) and XMP (0x04) and
 * which records the canvas size, then the image, then "EXIF" and "XMP " chunks. sharp writes a
 * simple file (one VP8 or VP8L chunk) when it has no metadata, so the canvas size is read from
 * the bitstream header (VP8: RFC 6386 §9.1; VP8L: lossless spec §3) to build VP8X.
 *
 * Pillow (what Fooocus uses) stores the EXIF chunk as bare TIFF, without "Exif\0\0"; so does this.
 */

const FLAG_ALPHA = 0x10;
const FLAG_EXIF = 0x08;
const FLAG_XMP = 0x04;

export function isWebp(bytes: Uint8Array): boolean {
  return bytes.length >= 12 && ascii(bytes, 0, 4) === 'RIFF' && ascii(bytes, 8, 12) === 'WEBP';
}

interface Chunk {
  type: string;
  data: Uint8Array;
}

function readChunks(bytes: Uint8Array): Chunk[] {
  if (!isWebp(bytes)) throw new Error('not a WebP file');
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const end = Math.min(bytes.length, 8 + view.getUint32(4, true));
  const chunks: Chunk[] = [];
  let pos = 12;
  while (pos + 8 <= end) {
    const type = ascii(bytes, pos, pos + 4);
    const size = view.getUint32(pos + 4, true);
    if (pos + 8 + size > end) throw new Error(`truncated WebP chunk ${type}`);
    chunks.push({ type, data: bytes.subarray(pos + 8, pos + 8 + size) });
    pos += 8 + size + (size & 1);
  }
  return chunks;
}

function writeChunks(chunks: readonly Chunk[]): Uint8Array {
  const parts: Uint8Array[] = [];
  for (const c of chunks) {
    const head = Buffer.alloc(8);
    head.write(c.type, 0, 'latin1');
    head.writeUInt32LE(c.data.length, 4);
    parts.push(head, c.data);
    if (c.data.length & 1) parts.push(Uint8Array.of(0));
  }
  const body = Buffer.concat(parts);
  const head = Buffer.alloc(12);
  head.write('RIFF', 0, 'latin1');
  head.writeUInt32LE(body.length + 4, 4);
  head.write('WEBP', 8, 'latin1');
  return Buffer.concat([head, body]);
}

export interface WebpMetadataBlocks {
  /** TIFF bytes. */
  exif?: Uint8Array;
  xmp?: string;
}

/** Replaces the file's EXIF and XMP chunks with `blocks`, converting a simple file to VP8X. */
export function setWebpMetadata(bytes: Uint8Array, blocks: WebpMetadataBlocks): Uint8Array {
  let chunks = readChunks(bytes).filter((c) => c.type !== 'EXIF' && c.type !== 'XMP ');
  let vp8x = chunks.find((c) => c.type === 'VP8X');
  if (!vp8x) {
    const image = chunks.find((c) => c.type === 'VP8 ' || c.type === 'VP8L');
    if (!image) throw new Error('WebP has no image chunk');
    const { width, height, alpha } = bitstreamSize(image);
    const data = new Uint8Array(10);
    data[0] = alpha ? FLAG_ALPHA : 0;
    writeU24(data, 4, width - 1);
    writeU24(data, 7, height - 1);
    vp8x = { type: 'VP8X', data };
    chunks = [vp8x, ...chunks];
  } else {
    vp8x.data = Uint8Array.from(vp8x.data);
  }
  vp8x.data[0] &= ~(FLAG_EXIF | FLAG_XMP);
  if (blocks.exif) {
    vp8x.data[0] |= FLAG_EXIF;
    chunks.push({ type: 'EXIF', data: blocks.exif });
  }
  if (blocks.xmp !== undefined) {
    vp8x.data[0] |= FLAG_XMP;
    chunks.push({ type: 'XMP ', data: Buffer.from(blocks.xmp, 'utf8') });
  }
  return writeChunks(chunks);
}

export function readWebpMetadata(bytes: Uint8Array): WebpMetadataBlocks {
  const out: WebpMetadataBlocks = {};
  for (const c of readChunks(bytes)) {
    if (c.type === 'EXIF' && !out.exif) {
      // Some writers keep the JPEG-style "Exif\0\0" prefix; accept both.
      out.exif = ascii(c.data, 0, 6) === 'Exif\0\0' ? c.data.subarray(6) : c.data;
    } else if (c.type === 'XMP ' && out.xmp === undefined) {
      out.xmp = Buffer.from(c.data).toString('utf8');
    }
  }
  return out;
}

function bitstreamSize(c: Chunk): { width: number; height: number; alpha: boolean } {
  const d = c.data;
  if (c.type === 'VP8 ') {
    if (d.length < 10 || d[3] !== 0x9d || d[4] !== 0x01 || d[5] !== 0x2a) throw new Error('bad VP8 key frame header');
    return { width: (d[6] | (d[7] << 8)) & 0x3fff, height: (d[8] | (d[9] << 8)) & 0x3fff, alpha: false };
  }
  if (d.length < 5 || d[0] !== 0x2f) throw new Error('bad VP8L header');
  const bits = (d[1] | (d[2] << 8) | (d[3] << 16) | (d[4] << 24)) >>> 0;
  return { width: (bits & 0x3fff) + 1, height: ((bits >>> 14) & 0x3fff) + 1, alpha: ((bits >>> 28) & 1) === 1 };
}

function writeU24(b: Uint8Array, at: number, v: number): void {
  b[at] = v & 0xff;
  b[at + 1] = (v >> 8) & 0xff;
  b[at + 2] = (v >> 16) & 0xff;
}

function ascii(b: Uint8Array, from: number, to: number): string {
  return Buffer.from(b.subarray(from, to)).toString('latin1');
}
