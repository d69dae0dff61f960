/**
 * Wire image (URL or base64) → raw bytes, nothing more: decoding and validation of the image
 * itself is storeInputImage's job. Limits are enforced before any allocation of the full
 * size where possible: the base64 length is checked against maxBytes BEFORE decoding
 * (reliability.md B10), and URL bodies are capped while streaming by the SSRF-safe fetcher.
 *
 * Unlike FooocusAPI (bad base64 ⇒ 500; a failed URL fetch ⇒ silently no image, api-contract
 * §2.2 step 6), both are a 422 naming the field.
 */
import type { ImageSource } from '../../core/request/generationJob.ts';
import { toImageSource } from '../../core/request/imageInput.ts';
import { InputImageError, type FieldLoc } from './inputImageError.ts';
import { UrlFetchError, type UrlFetcher } from './urlFetch/index.ts';

export interface DecodeImageInputDeps {
  /** The SSRF-safe fetcher (createUrlFetcher) for URL sources. */
  fetcher: UrlFetcher;
  /** Largest image file in bytes (MAX_IMAGE_BYTES). */
  maxBytes: number;
  /** The request field, for error messages and `loc`. Default `[]` (shown as "image"). */
  field?: FieldLoc;
  /** Cancels a URL fetch (e.g. the client went away). */
  signal?: AbortSignal;
}

const BASE64_CHARS = /^[A-Za-z0-9+/_-]*={0,2}$/;

/**
 * The bytes of a wire image string (`http(s)://…`, base64, `data:image/…;base64,…`) or of a
 * url/base64 ImageSource. Throws InputImageError (a ValidationError) for a "no image"
 * marker, malformed base64, a refused/failed URL, or more than maxBytes.
 */
export async function decodeImageInput(source: string | Exclude<ImageSource, { kind: 'stored' }>, deps: DecodeImageInputDeps): Promise<Buffer> {
  const loc = deps.field ?? [];
  let parsed: ImageSource | null;
  if (typeof source === 'string') {
    try {
      parsed = toImageSource(source);
    } catch (err) {
      throw InputImageError.forImageField('invalid-image', loc, 'image_invalid_base64', 'must be an http(s) URL or base64 image data', { cause: err });
    }
    if (parsed === null) throw InputImageError.forImageField('invalid-image', loc, 'missing', 'an image is required');
  } else {
    parsed = source;
  }
  if (parsed.kind === 'stored') throw new TypeError('decodeImageInput: stored sources need no decoding');
  return parsed.kind === 'base64' ? decodeBase64(parsed.data, deps.maxBytes, loc) : fetchImage(parsed.url, deps, loc);
}

function decodeBase64(data: string, maxBytes: number, loc: FieldLoc): Buffer {
  const body = data.replace(/\s+/g, '');
  const unpadded = body.replace(/=+$/, '');
  // Size first: decoded length is exactly floor(unpadded × 3 / 4).
  const decodedLength = Math.floor((unpadded.length * 3) / 4);
  if (decodedLength > maxBytes) {
    throw InputImageError.forImageField('image-too-large', loc, 'image_too_large', `image data is ${decodedLength} bytes, more than the limit of ${maxBytes}`, {
      ctx: { max_bytes: maxBytes, bytes: decodedLength },
    });
  }
  if (unpadded.length === 0 || unpadded.length % 4 === 1 || !BASE64_CHARS.test(body)) {
    throw InputImageError.forImageField('invalid-image', loc, 'image_invalid_base64', 'is not valid base64 image data');
  }
  // Node decodes both the standard and the URL-safe alphabet.
  return Buffer.from(unpadded, 'base64');
}

async function fetchImage(url: string, deps: DecodeImageInputDeps, loc: FieldLoc): Promise<Buffer> {
  try {
    const got = await deps.fetcher.get(url, { maxBytes: deps.maxBytes, signal: deps.signal });
    return got.bytes;
  } catch (err) {
    if (!(err instanceof UrlFetchError)) throw err;
    const extra = { input: err.url, cause: err, ctx: { reason: err.code } as Record<string, unknown> };
    switch (err.code) {
      case 'scheme_not_allowed':
      case 'address_not_allowed':
        return blocked(loc, 'image_url_blocked', `URL refused: ${err.message}`, extra);
      case 'too_large':
        extra.ctx.max_bytes = deps.maxBytes;
        throw InputImageError.forImageField('image-too-large', loc, 'image_too_large', `URL body too large: ${err.message}`, extra);
      case 'invalid_url':
        return blocked(loc, 'image_url_invalid', `invalid URL: ${err.message}`, extra, 'invalid-image');
      case 'http_status':
        extra.ctx.status = err.status;
        return failed(loc, err, extra);
      case 'timeout':
      case 'too_many_redirects':
      case 'dns_failure':
      case 'network_error':
      case 'aborted':
        return failed(loc, err, extra);
      default:
        return assertNever(err.code);
    }
  }
}

function blocked(loc: FieldLoc, type: string, msg: string, extra: object, problem: 'input-url-blocked' | 'invalid-image' = 'input-url-blocked'): never {
  throw InputImageError.forImageField(problem, loc, type, msg, extra);
}

function failed(loc: FieldLoc, err: UrlFetchError, extra: object): never {
  throw InputImageError.forImageField('input-fetch-failed', loc, 'image_fetch_failed', `could not fetch the image: ${err.message}`, extra);
}

function assertNever(value: never): never {
  throw new Error(`unexpected fetch error code: ${String(value)}`);
}
