/**
 * Image bytes → a normalised file under `inputs/<sha256>.<ext>` (api-contract §6.2).
 *
 * Decompression-bomb safety (reliability.md B10, fault case 14): the header is read first
 * (`metadata()` decodes no pixels) and the declared size is compared with maxPixels before
 * any full decode; the decode itself runs with sharp's `limitInputPixels = maxPixels` as a
 * second fence. A 600 KB PNG declaring 14000×14000 is refused in milliseconds, using only
 * the memory of its header. Animated or multi-page input (a 1000-frame GIF) is refused from
 * the header's page count; only the first page would ever be decoded anyway (sharp's default).
 *
 * Normalisation: EXIF orientation applied (stripping the tag must not rotate what the user
 * sees), CMYK converted to sRGB, all metadata dropped (EXIF/GPS/XMP/ICC: privacy, and
 * nothing downstream needs it). PNG, JPEG and WebP stay in their format (re-encoded: JPEG
 * q95 4:4:4, WebP q95); GIF/TIFF/AVIF become PNG. SVG, PDF and other vector/raw inputs are
 * refused (rendering them is a resource and SSRF risk of its own).
 *
 * Dedup: the key is the sha256 of the NORMALISED bytes, so the same picture sent twice (or as
 * base64 and by URL) is stored once. FooocusAPI hashes the base64 text of a PNG re-encode and
 * always uses `.png`; the hash differs, the `/inputs/<hash>.<ext>` shape does not.
 */
import { createHash } from 'node:crypto';
import sharp, { type Metadata, type OutputInfo } from 'sharp';
import { TransientInfraError } from '../../core/errors.ts';
import type { BlobStore } from '../../core/ports.ts';
import { InputImageError, type FieldLoc } from './inputImageError.ts';

export interface StoreInputImageOptions {
  blobs: BlobStore;
  /** Largest file in bytes (MAX_IMAGE_BYTES). */
  maxBytes: number;
  /** Largest width × height (MAX_IMAGE_PIXELS), checked from the header before decoding. */
  maxPixels: number;
  /** The request field, for error messages and `loc`. Default `[]`. */
  field?: FieldLoc;
}

export interface StoredInputImage {
  /** Blob key, `inputs/<sha256>.<png|jpg|webp>`. */
  key: string;
  /** Hex sha256 of the stored bytes. */
  sha256: string;
  /** Size after applying EXIF orientation. */
  width: number;
  height: number;
  mediaType: 'image/png' | 'image/jpeg' | 'image/webp';
}

/** Formats accepted as input (what sharp's prebuilt libvips decodes and Fooocus users send). */
const ACCEPTED_FORMATS = new Set(['png', 'jpeg', 'webp', 'gif', 'tiff', 'heif']);

export async function storeInputImage(bytes: Uint8Array, options: StoreInputImageOptions): Promise<StoredInputImage> {
  const { blobs, maxBytes, maxPixels } = options;
  const loc = options.field ?? [];
  const tooLarge = (msg: string, ctx: Record<string, unknown>) => InputImageError.forImageField('image-too-large', loc, 'image_too_large', msg, { ctx });
  const invalid = (type: string, msg: string, cause?: unknown) => InputImageError.forImageField('invalid-image', loc, type, msg, { cause });

  if (bytes.byteLength > maxBytes) throw tooLarge(`image is ${bytes.byteLength} bytes, more than the limit of ${maxBytes}`, { max_bytes: maxBytes, bytes: bytes.byteLength });
  if (bytes.byteLength === 0) throw invalid('image_invalid', 'image data is empty');

  // Header only: no pixel is decoded here, so the declared size can be checked first.
  let meta: Metadata;
  try {
    meta = await sharp(bytes, { limitInputPixels: false, failOn: 'error' }).metadata();
  } catch (err) {
    throw invalid('image_invalid', 'is not an image in a supported format (png, jpeg, webp, gif, tiff, avif)', err);
  }
  if (!meta.format || !ACCEPTED_FORMATS.has(meta.format)) {
    throw invalid('image_unsupported_format', `image format '${meta.format ?? 'unknown'}' is not supported (png, jpeg, webp, gif, tiff, avif)`);
  }
  if ((meta.pages ?? 1) > 1) {
    throw invalid('image_animated', `animated or multi-page images are not supported (${meta.pages} frames)`);
  }
  const width = meta.width ?? 0;
  const height = meta.height ?? 0;
  if (width <= 0 || height <= 0) throw invalid('image_invalid', 'image has no dimensions');
  if (width * height > maxPixels) {
    throw tooLarge(`image is ${width}×${height} = ${width * height} pixels, more than the limit of ${maxPixels}`, {
      max_pixels: maxPixels,
      width,
      height,
    });
  }

  const mediaType = meta.format === 'jpeg' ? 'image/jpeg' : meta.format === 'webp' ? 'image/webp' : 'image/png';
  let encoded: { data: Buffer; info: OutputInfo };
  try {
    let pipeline = sharp(bytes, { limitInputPixels: maxPixels, failOn: 'error' }).autoOrient();
    if (meta.space === 'cmyk') pipeline = pipeline.toColourspace('srgb');
    pipeline =
      mediaType === 'image/jpeg'
        ? pipeline.jpeg({ quality: 95, chromaSubsampling: '4:4:4' })
        : mediaType === 'image/webp'
          ? pipeline.webp({ quality: 95 })
          : pipeline.png();
    encoded = await pipeline.toBuffer({ resolveWithObject: true });
  } catch (err) {
    throw invalid('image_invalid', `image data is corrupt or truncated (${err instanceof Error ? err.message.split('\n')[0] : String(err)})`, err);
  }

  const sha256 = createHash('sha256').update(encoded.data).digest('hex');
  const ext = mediaType === 'image/jpeg' ? 'jpg' : mediaType === 'image/webp' ? 'webp' : 'png';
  const key = `inputs/${sha256}.${ext}`;
  try {
    // Content-addressed: an existing object already holds exactly these bytes.
    if (!(await blobs.exists(key))) await blobs.put(key, encoded.data, mediaType);
  } catch (err) {
    throw new TransientInfraError(`could not store input image ${key}`, { cause: err });
  }
  return { key, sha256, width: encoded.info.width, height: encoded.info.height, mediaType };
}
