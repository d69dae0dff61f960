/**
 * RGB bytes → png / jpeg / webp with sharp. Quality defaults follow what
 * FooocusAPI writes (PIL defaults: jpeg 95 in Fooocus' log saver, webp 95).
 */
import sharp from 'sharp';

export type ImageFormat = 'png' | 'jpeg' | 'webp';

export interface EncodeOptions {
  format: ImageFormat;
  quality?: number;
  /** PNG text chunks / EXIF comment carrying generation parameters. */
  metadata?: Record<string, string>;
}

export async function encodeRgb8(rgb: Uint8Array, width: number, height: number, opts: EncodeOptions): Promise<Buffer> {
  let img = sharp(Buffer.from(rgb.buffer, rgb.byteOffset, rgb.byteLength), { raw: { width, height, channels: 3 } });
  if (opts.metadata && Object.keys(opts.metadata).length > 0) {
    // sharp writes EXIF IFD0 fields for every format; PNG gets them as an eXIf chunk.
    img = img.withExif({ IFD0: { ImageDescription: JSON.stringify(opts.metadata) } });
  }
  switch (opts.format) {
    case 'png':
      return img.png({ compressionLevel: 6 }).toBuffer();
    case 'jpeg':
      return img.jpeg({ quality: opts.quality ?? 95 }).toBuffer();
    case 'webp':
      return img.webp({ quality: opts.quality ?? 95 }).toBuffer();
  }
}
