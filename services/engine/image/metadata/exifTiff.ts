/**
 * The EXIF block (a TIFF structure) carrying generation metadata in JPEG and WebP files.
 *
 * IFD0 holds exactly what Fooocus writes (F modules/meta_parser.py `get_exif`, saved by Pillow):
 * Software (0x0131) = version label, MakerNote (0x927C) = scheme name, UserComment (0x9286) =
 * the parameters text, all three as ASCII — Pillow stores a str as type ASCII, encoded with
 * `encode('ascii', 'replace')` (non-ASCII characters become '?') and NUL-terminated. Fooocus'
 * reader (`Image.getexif().get(0x9286)`) reads IFD0, so this is what makes our files load in
 * Fooocus.
 *
 * Because that copy loses non-ASCII text, the Exif sub-IFD (0x8769) also carries UserComment in
 * its standard form (type UNDEFINED, 8-byte "UNICODE\0" character-code prefix, then UTF-16),
 * which is where A1111 tools and exiftool look; the file is big-endian ("MM") so that the
 * UTF-16 is big-endian as piexif (A1111's writer and reader) assumes. ExifVersion 0232 marks
 * the sub-IFD. The Fooocus-scheme JSON is ASCII-only, so both copies are equal there.
 */

export interface ExifFields {
  software: string;
  makerNote: string;
  /** IFD0 UserComment (ASCII, lossy for non-ASCII as Pillow writes it). */
  userComment: string;
  /** Also write the Unicode UserComment in the Exif sub-IFD. Default true. */
  unicodeUserComment?: boolean;
}

const TYPE_ASCII = 2;
const TYPE_LONG = 4;
const TYPE_UNDEFINED = 7;
const TAG_SOFTWARE = 0x0131;
const TAG_EXIF_IFD = 0x8769;
const TAG_EXIF_VERSION = 0x9000;
const TAG_MAKER_NOTE = 0x927c;
const TAG_USER_COMMENT = 0x9286;
const UNICODE_PREFIX = Buffer.from('UNICODE\0', 'latin1');

interface Entry {
  tag: number;
  type: number;
  value: Uint8Array;
  count?: number;
}

/** The TIFF bytes (what follows "Exif\0\0" in a JPEG APP1, the whole WebP EXIF chunk). */
export function buildExifTiff(fields: ExifFields): Uint8Array {
  const ifd0: Entry[] = [
    { tag: TAG_SOFTWARE, type: TYPE_ASCII, value: pillowAscii(fields.software) },
    { tag: TAG_MAKER_NOTE, type: TYPE_ASCII, value: pillowAscii(fields.makerNote) },
    { tag: TAG_USER_COMMENT, type: TYPE_ASCII, value: pillowAscii(fields.userComment) },
  ];
  const sub: Entry[] = [];
  if (fields.unicodeUserComment ?? true) {
    sub.push({ tag: TAG_EXIF_VERSION, type: TYPE_UNDEFINED, value: Buffer.from('0232', 'latin1') });
    sub.push({ tag: TAG_USER_COMMENT, type: TYPE_UNDEFINED, value: Buffer.concat([UNICODE_PREFIX, utf16be(fields.userComment)]) });
    ifd0.push({ tag: TAG_EXIF_IFD, type: TYPE_LONG, value: new Uint8Array(4), count: 1 });
  }
  ifd0.sort((a, b) => a.tag - b.tag);

  const ifdSize = (n: number) => 2 + 12 * n + 4;
  const dataSize = (entries: Entry[]) => entries.reduce((s, e) => s + (e.value.length > 4 ? even(e.value.length) : 0), 0);
  const ifd0At = 8;
  const ifd0DataAt = ifd0At + ifdSize(ifd0.length);
  const subAt = ifd0DataAt + dataSize(ifd0);
  const total = subAt + (sub.length ? ifdSize(sub.length) + dataSize(sub) : 0);
  const out = new Uint8Array(total);
  const view = new DataView(out.buffer);
  out.set(Buffer.from('MM', 'latin1'), 0);
  view.setUint16(2, 42);
  view.setUint32(4, ifd0At);
  const pointer = ifd0.find((e) => e.tag === TAG_EXIF_IFD);
  if (pointer) new DataView(pointer.value.buffer, pointer.value.byteOffset).setUint32(0, subAt);
  writeIfd(out, view, ifd0At, ifd0);
  if (sub.length) writeIfd(out, view, subAt, sub);
  return out;
}

function writeIfd(out: Uint8Array, view: DataView, at: number, entries: Entry[]): void {
  view.setUint16(at, entries.length);
  let data = at + 2 + 12 * entries.length + 4;
  entries.forEach((e, i) => {
    const p = at + 2 + 12 * i;
    view.setUint16(p, e.tag);
    view.setUint16(p + 2, e.type);
    view.setUint32(p + 4, e.count ?? e.value.length);
    if (e.value.length <= 4) {
      out.set(e.value, p + 8);
    } else {
      view.setUint32(p + 8, data);
      out.set(e.value, data);
      data += even(e.value.length);
    }
  });
  view.setUint32(at + 2 + 12 * entries.length, 0); // no next IFD
}

export interface ExifRead {
  software?: string;
  makerNote?: string;
  /** IFD0 UserComment as Pillow reads it (Latin-1, trailing NUL dropped). */
  userComment?: string;
  /** Exif sub-IFD UserComment decoded by its character-code prefix. */
  exifUserComment?: string;
}

/** Reads the fields buildExifTiff writes from any TIFF-structured EXIF block (either byte order). */
export function readExifTiff(tiff: Uint8Array): ExifRead {
  if (tiff.length < 8) throw new Error('EXIF block too short');
  const order = Buffer.from(tiff.subarray(0, 2)).toString('latin1');
  if (order !== 'MM' && order !== 'II') throw new Error('EXIF block has no TIFF byte order mark');
  const little = order === 'II';
  const view = new DataView(tiff.buffer, tiff.byteOffset, tiff.byteLength);
  const u16 = (p: number) => view.getUint16(p, little);
  const u32 = (p: number) => view.getUint32(p, little);
  const SIZES: Record<number, number> = { 1: 1, 2: 1, 3: 2, 4: 4, 5: 8, 7: 1, 9: 4, 10: 8 };
  const readIfd = (at: number): Map<number, { type: number; bytes: Uint8Array }> => {
    const entries = new Map<number, { type: number; bytes: Uint8Array }>();
    if (at + 2 > tiff.length) return entries;
    const n = u16(at);
    for (let i = 0; i < n; i++) {
      const p = at + 2 + 12 * i;
      if (p + 12 > tiff.length) break;
      const type = u16(p + 2);
      const size = (SIZES[type] ?? 1) * u32(p + 4);
      const start = size <= 4 ? p + 8 : u32(p + 8);
      if (start + size > tiff.length) continue;
      entries.set(u16(p), { type, bytes: tiff.subarray(start, start + size) });
    }
    return entries;
  };
  const ascii = (b?: { bytes: Uint8Array }) => (b ? Buffer.from(b.bytes).toString('latin1').replace(/\0+$/, '') : undefined);
  const ifd0 = readIfd(u32(4));
  const out: ExifRead = {
    software: ascii(ifd0.get(TAG_SOFTWARE)),
    makerNote: ascii(ifd0.get(TAG_MAKER_NOTE)),
    userComment: ascii(ifd0.get(TAG_USER_COMMENT)),
  };
  const pointer = ifd0.get(TAG_EXIF_IFD);
  if (pointer && pointer.bytes.length === 4) {
    const sub = readIfd(new DataView(pointer.bytes.buffer, pointer.bytes.byteOffset).getUint32(0, little));
    const comment = sub.get(TAG_USER_COMMENT);
    if (comment) out.exifUserComment = decodeUserComment(comment.bytes, little);
  }
  return out;
}

/** EXIF UserComment (UNDEFINED): 8-byte character code, then the text. */
function decodeUserComment(bytes: Uint8Array, little: boolean): string {
  const code = Buffer.from(bytes.subarray(0, 8)).toString('latin1');
  const body = Buffer.from(bytes.subarray(8));
  if (code === 'UNICODE\0') {
    if (little) return body.toString('utf16le');
    const swapped = Buffer.from(body);
    swapped.swap16();
    return swapped.toString('utf16le');
  }
  return body.toString(code.startsWith('ASCII') ? 'latin1' : 'utf8').replace(/\0+$/, '');
}

/** Pillow's ASCII writer: `value.encode('ascii', 'replace') + b'\0'` ('?' per non-ASCII code point). */
function pillowAscii(s: string): Uint8Array {
  return Buffer.from(`${Array.from(s, (c) => (c.codePointAt(0)! < 0x80 ? c : '?')).join('')}\0`, 'latin1');
}

function utf16be(s: string): Uint8Array {
  const b = Buffer.from(s, 'utf16le');
  b.swap16();
  return b;
}

function even(n: number): number {
  return n + (n & 1);
}
