/**
 * Puts generation metadata into encoded image bytes, and reads it back.
 *
 * Where it goes, per format (Fooocus' placement first, F modules/private_logger.py `log`):
 *   png  — text chunks `parameters` (the scheme's text) and `fooocus_scheme` ("fooocus" or
 *          "a1111"), as Pillow's PngInfo.add_text writes them (pngTextChunks.ts);
 *   jpeg — EXIF APP1: IFD0 Software/MakerNote/UserComment as Fooocus writes them plus a Unicode
 *          UserComment in the Exif IFD (exifTiff.ts), then an XMP APP1 (xmpPacket.ts);
 *   webp — the same EXIF (bare TIFF, as Pillow writes it) and XMP as RIFF chunks (webpChunks.ts).
 *
 * It works on the bytes sharp produced (encodeImage.ts) rather than through sharp: sharp cannot
 * write PNG text chunks and writes EXIF only through libexif's field names, which cannot place
 * an ASCII UserComment in IFD0 where Fooocus' reader looks. Call it with the image encoded
 * WITHOUT `EncodeOptions.metadata`, or the file carries sharp's EXIF as well (JPEG/WebP EXIF is
 * replaced, a PNG eXIf chunk is not).
 *
 * JPEG limits each block to 64 KiB. A prompt long enough to overflow it loses, in order: the
 * Unicode EXIF copy, then the EXIF block, then the XMP block; each omission is reported to
 * `onOmitted` (the PNG and WebP containers have no such limit).
 */
import type { ImageFormat } from '../encodeImage.ts';
import { buildExifTiff, readExifTiff, type ExifRead } from './exifTiff.ts';
import type { ImageMetadata, MetadataScheme } from './generationMetadata.ts';
import { isJpeg, JPEG_MAX_SEGMENT_PAYLOAD, jpegExifPayloadSize, jpegXmpPayloadSize, readJpegMetadata, setJpegMetadata } from './jpegSegments.ts';
import { insertPngTextChunks, isPng, readPngText } from './pngTextChunks.ts';
import { isWebp, readWebpMetadata, setWebpMetadata } from './webpChunks.ts';
import { buildXmpPacket, readXmpPacket, type XmpFields } from './xmpPacket.ts';

export interface EmbedOptions {
  /** Told about each block left out because it does not fit (JPEG only). */
  onOmitted?: (block: 'exif-unicode' | 'exif' | 'xmp', reason: string) => void;
}

/** `bytes` (png/jpeg/webp as `format` says) with `metadata` embedded. */
export function embedImageMetadata(bytes: Uint8Array, format: ImageFormat, metadata: ImageMetadata, options: EmbedOptions = {}): Uint8Array {
  if (format === 'png') {
    return insertPngTextChunks(bytes, [
      ['parameters', metadata.parameters],
      ['fooocus_scheme', metadata.scheme],
    ]);
  }
  const exifFields = { software: metadata.software, makerNote: metadata.scheme, userComment: metadata.parameters };
  let exif: Uint8Array | undefined = buildExifTiff(exifFields);
  let xmp: string | undefined = buildXmpPacket({ parameters: metadata.parameters, scheme: metadata.scheme, software: metadata.software });
  if (format === 'webp') return setWebpMetadata(bytes, { exif, xmp });

  const limit = `exceeds the JPEG segment limit of ${JPEG_MAX_SEGMENT_PAYLOAD} bytes`;
  if (jpegExifPayloadSize(exif) > JPEG_MAX_SEGMENT_PAYLOAD) {
    options.onOmitted?.('exif-unicode', limit);
    exif = buildExifTiff({ ...exifFields, unicodeUserComment: false });
    if (jpegExifPayloadSize(exif) > JPEG_MAX_SEGMENT_PAYLOAD) {
      options.onOmitted?.('exif', limit);
      exif = undefined;
    }
  }
  if (jpegXmpPayloadSize(xmp) > JPEG_MAX_SEGMENT_PAYLOAD) {
    options.onOmitted?.('xmp', limit);
    xmp = undefined;
  }
  return setJpegMetadata(bytes, { exif, xmp });
}

/**
 * Applies FooocusAPI's `save_metadata_to_images`: with `save` false the bytes come back
 * unchanged (Fooocus then writes no parameters), otherwise as embedImageMetadata.
 */
export function applyMetadataSetting(bytes: Uint8Array, format: ImageFormat, save: boolean, metadata: () => ImageMetadata, options?: EmbedOptions): Uint8Array {
  return save ? embedImageMetadata(bytes, format, metadata(), options) : bytes;
}

export interface ReadImageMetadataResult {
  format: ImageFormat;
  /** The parameters text (JSON for the fooocus scheme), from the most faithful copy present. */
  parameters: string | null;
  /** Declared scheme, else guessed as Fooocus does (JSON object → fooocus, other text → a1111). */
  scheme: MetadataScheme | null;
  software: string | null;
  /** Which copy `parameters` came from. */
  source: 'png-text' | 'xmp' | 'exif-unicode' | 'exif' | null;
  exif?: ExifRead;
  xmp?: Partial<XmpFields>;
}

/** Reads what embedImageMetadata (or Fooocus) wrote; null for bytes that are not png/jpeg/webp. */
export function readImageMetadata(bytes: Uint8Array): ReadImageMetadataResult | null {
  if (isPng(bytes)) {
    const text = readPngText(bytes);
    const parameters = text.get('parameters') ?? null;
    return { format: 'png', parameters, scheme: schemeOf(text.get('fooocus_scheme'), parameters), software: text.get('Software') ?? null, source: parameters === null ? null : 'png-text' };
  }
  let blocks: { exif?: Uint8Array; xmp?: string };
  let format: ImageFormat;
  if (isJpeg(bytes)) {
    blocks = readJpegMetadata(bytes);
    format = 'jpeg';
  } else if (isWebp(bytes)) {
    blocks = readWebpMetadata(bytes);
    format = 'webp';
  } else {
    return null;
  }
  const exif = blocks.exif ? readExifTiff(blocks.exif) : undefined;
  const xmp = blocks.xmp !== undefined ? readXmpPacket(blocks.xmp) : undefined;
  const candidates: [ReadImageMetadataResult['source'], string | undefined][] = [
    ['xmp', xmp?.parameters],
    ['exif-unicode', exif?.exifUserComment],
    ['exif', exif?.userComment],
  ];
  const found = candidates.find(([, v]) => v !== undefined);
  const parameters = found?.[1] ?? null;
  return {
    format,
    parameters,
    scheme: schemeOf(xmp?.scheme ?? exif?.makerNote, parameters),
    software: xmp?.software ?? exif?.software ?? null,
    source: found?.[0] ?? null,
    exif,
    xmp,
  };
}

/** F meta_parser.read_info_from_image: a valid declared scheme, else a guess from the text. */
function schemeOf(declared: string | undefined, parameters: string | null): MetadataScheme | null {
  if (declared === 'fooocus' || declared === 'a1111') return declared;
  if (parameters === null) return null;
  try {
    const parsed: unknown = JSON.parse(parameters);
    if (parsed && typeof parsed === 'object' && !Array.isArray(parsed)) return 'fooocus';
  } catch {
    // not JSON: A1111 text
  }
  return 'a1111';
}
