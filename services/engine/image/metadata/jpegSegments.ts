/**
 * JPEG APP1 segments for EXIF and XMP (JPEG: ITU T.81 B.1.1.4; EXIF 2.32 §4.5.4; XMP spec
 * part 3 §1.1.3). An APP segment holds at most 65533 bytes of payload (its 16-bit length
 * counts itself), so each block must fit or be left out by the caller.
 *
 * Segments go right after SOI and any APP0 (JFIF requires APP0 first). Existing EXIF and XMP
 * APP1 segments are dropped so a file never carries two of either.
 */

export const JPEG_MAX_SEGMENT_PAYLOAD = 65533;
const EXIF_HEADER = Buffer.from('Exif\0\0', 'latin1');
const XMP_HEADER = Buffer.from('http://ns.adobe.com/xap/1.0/\0', 'latin1');

export function isJpeg(bytes: Uint8Array): boolean {
  return bytes.length >= 3 && bytes[0] === 0xff && bytes[1] === 0xd8 && bytes[2] === 0xff;
}

interface Segment {
  marker: number;
  /** Whole segment, marker included. */
  bytes: Uint8Array;
  payload: Uint8Array;
}

/** The marker segments from SOI up to (not including) SOS, and the offset where SOS starts. */
function headerSegments(bytes: Uint8Array): { segments: Segment[]; rest: number } {
  if (!isJpeg(bytes)) throw new Error('not a JPEG file');
  const segments: Segment[] = [];
  let pos = 2;
  while (pos + 4 <= bytes.length) {
    if (bytes[pos] !== 0xff) throw new Error(`JPEG marker expected at byte ${pos}`);
    let m = pos + 1;
    while (bytes[m] === 0xff) m++; // fill bytes
    const marker = bytes[m];
    if (marker === 0xda || marker === 0xd9) return { segments, rest: pos };
    const length = (bytes[m + 1] << 8) | bytes[m + 2];
    const end = m + 1 + length;
    if (length < 2 || end > bytes.length) throw new Error(`truncated JPEG segment 0x${marker.toString(16)}`);
    segments.push({ marker, bytes: bytes.subarray(pos, end), payload: bytes.subarray(m + 3, end) });
    pos = end;
  }
  throw new Error('JPEG has no scan');
}

function startsWith(payload: Uint8Array, header: Uint8Array): boolean {
  return payload.length >= header.length && header.every((b, i) => payload[i] === b);
}

export interface JpegMetadataBlocks {
  /** TIFF bytes (without "Exif\0\0"). */
  exif?: Uint8Array;
  /** XMP packet text. */
  xmp?: string;
}

/** Replaces the file's EXIF and XMP with `blocks` (a block left undefined is just removed). */
export function setJpegMetadata(bytes: Uint8Array, blocks: JpegMetadataBlocks): Uint8Array {
  const { segments, rest } = headerSegments(bytes);
  const isMetadata = (s: Segment) => s.marker === 0xe1 && (startsWith(s.payload, EXIF_HEADER) || startsWith(s.payload, XMP_HEADER));
  const kept = segments.filter((s) => !isMetadata(s));
  const app0 = kept.findIndex((s) => s.marker !== 0xe0);
  const insertAt = app0 < 0 ? kept.length : app0;
  const added: Uint8Array[] = [];
  if (blocks.exif) added.push(app1(Buffer.concat([EXIF_HEADER, blocks.exif])));
  if (blocks.xmp !== undefined) added.push(app1(Buffer.concat([XMP_HEADER, Buffer.from(blocks.xmp, 'utf8')])));
  return Buffer.concat([
    bytes.subarray(0, 2),
    ...kept.slice(0, insertAt).map((s) => s.bytes),
    ...added,
    ...kept.slice(insertAt).map((s) => s.bytes),
    bytes.subarray(rest),
  ]);
}

export function readJpegMetadata(bytes: Uint8Array): JpegMetadataBlocks {
  const out: JpegMetadataBlocks = {};
  for (const s of headerSegments(bytes).segments) {
    if (s.marker !== 0xe1) continue;
    if (!out.exif && startsWith(s.payload, EXIF_HEADER)) out.exif = s.payload.subarray(EXIF_HEADER.length);
    else if (out.xmp === undefined && startsWith(s.payload, XMP_HEADER)) out.xmp = Buffer.from(s.payload.subarray(XMP_HEADER.length)).toString('utf8');
  }
  return out;
}

/** Payload size of the APP1 segment that would carry this EXIF / XMP block. */
export const jpegExifPayloadSize = (tiff: Uint8Array): number => EXIF_HEADER.length + tiff.length;
export const jpegXmpPayloadSize = (xmp: string): number => XMP_HEADER.length + Buffer.byteLength(xmp, 'utf8');

function app1(payload: Uint8Array): Uint8Array {
  if (payload.length > JPEG_MAX_SEGMENT_PAYLOAD) throw new RangeError(`APP1 payload of ${payload.length} bytes exceeds ${JPEG_MAX_SEGMENT_PAYLOAD}`);
  const head = Uint8Array.of(0xff, 0xe1, (payload.length + 2) >> 8, (payload.length + 2) & 0xff);
  return Buffer.concat([head, payload]);
}
