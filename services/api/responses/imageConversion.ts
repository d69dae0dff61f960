/**
 * Image bytes in the format an `Accept: image/<ext>` asked for (api-contract §1.1 mode A and
 * §6.3): png, jpeg (also `jpg`, which FooocusAPI answers with a 500 or an empty body — we
 * convert and label it `image/jpeg`), webp. Any other `image/<x>` means png. Bytes already in
 * the requested format are returned untouched (no re-encode, no metadata loss).
 */
import sharp from 'sharp';

export type ImageExt = 'png' | 'jpeg' | 'webp';

/** FooocusAPI's Accept rule: exactly one `/`, main type `image`. Returns null for JSON modes. */
export function parseImageAccept(accept: string | undefined, options: { unknownAs: 'png' | null }): ImageExt | null {
  if (accept === undefined) return null;
  const parts = accept.toLowerCase().split('/');
  if (parts.length !== 2 || parts[0] !== 'image') return null;
  const ext = parts[1];
  if (ext === 'png' || ext === 'webp' || ext === 'jpeg') return ext;
  if (ext === 'jpg') return 'jpeg';
  return options.unknownAs;
}

export function contentTypeOf(ext: ImageExt): string {
  return `image/${ext}`;
}

export function sniffImageExt(bytes: Uint8Array): ImageExt | null {
  if (bytes[0] === 0x89 && bytes[1] === 0x50 && bytes[2] === 0x4e && bytes[3] === 0x47) return 'png';
  if (bytes[0] === 0xff && bytes[1] === 0xd8) return 'jpeg';
  if (bytes[0] === 0x52 && bytes[1] === 0x49 && bytes[2] === 0x46 && bytes[3] === 0x46 && bytes[8] === 0x57 && bytes[9] === 0x45) return 'webp';
  return null;
}

export async function convertImage(bytes: Uint8Array, ext: ImageExt): Promise<Buffer> {
  const input = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (sniffImageExt(bytes) === ext) return input;
  const image = sharp(input, { failOn: 'error' });
  switch (ext) {
    case 'png':
      return image.png().toBuffer();
    case 'jpeg':
      return image.flatten({ background: '#ffffff' }).jpeg({ quality: 95 }).toBuffer();
    case 'webp':
      return image.webp({ quality: 95 }).toBuffer();
    default:
      throw new Error(`unsupported format ${String(ext)}`);
  }
}
