// An input image of a stored request → 8-bit RGB pixels, read from the BlobStore.
//
// The API fetches/decodes every url or base64 image before the task is created and stores it
// by content hash under `inputs/<sha256>.<ext>` (api-contract §6.2); the stored job carries a
// `stored` source with that key (and the `/inputs/…` URL in its req_params). The worker never
// fetches a URL itself: a source that is not `stored` means the API did not store it, and a key
// the BlobStore does not have (deleted by retention, another bucket) fails the task with
// invalid_input naming the image — retrying cannot make it appear. A blob-store error is
// transient and propagates as such (the attempt is retried).
import type { BlobStore } from '../core/ports.ts';
import type { ImageSource } from '../core/request/generationJob.ts';
import sharp from 'sharp';
import { hwc3 } from '../engine/image/decodeImage.ts';
import type { U8Image } from '../engine/image/resampleLanczos.ts';
import { TaskInputError } from './taskFailure.ts';

/** `source` (the request field `field`) as HWC RGB bytes, Fooocus' HWC3 applied. */
export async function readInputImage(blobs: BlobStore, source: ImageSource, field: string): Promise<U8Image> {
  return hwc3(await readRawInputImage(blobs, source, field));
}

/**
 * `source` with the channels it was stored with (gray, gray+alpha, RGB, RGBA), as FooocusAPI
 * hands Fooocus an uploaded mask (it averages over whatever channels arrive).
 */
export async function readRawInputImage(blobs: BlobStore, source: ImageSource, field: string): Promise<U8Image> {
  if (source.kind !== 'stored') {
    throw new TaskInputError('invalid_input', `${field}: the input image was not stored by the API (a ${source.kind} source reached the worker); send the request again`);
  }
  const blob = await blobs.get(source.key);
  if (!blob) {
    throw new TaskInputError('invalid_input', `${field}: the input image ${source.url ?? source.key} is missing from the blob store (key ${source.key}); send the image again`);
  }
  try {
    return await decodeRaw8(blob.bytes);
  } catch (err) {
    throw new TaskInputError('invalid_input', `${field}: the stored input image ${source.key} cannot be decoded (${err instanceof Error ? err.message : String(err)})`, { cause: err });
  }
}

async function decodeRaw8(bytes: Uint8Array): Promise<U8Image> {
  const { data, info } = await sharp(bytes).raw({ depth: 'uchar' }).toBuffer({ resolveWithObject: true });
  return { data: new Uint8Array(data.buffer, data.byteOffset, data.byteLength), width: info.width, height: info.height, channels: info.channels };
}
