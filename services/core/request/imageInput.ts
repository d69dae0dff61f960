/**
 * Image inputs as they arrive on the wire: an http(s) URL, base64 (optionally a
 * `data:image/...;base64,` URL), or one of FooocusAPI's "no image" markers
 * (`None`, `""`, `"None"`, `"null"`, `"string"`, `"none"` — api-contract §2.2 step 6).
 *
 * Only the string's shape is checked here. Fetching, decoding and storing happen in the API,
 * which replaces each source by a stored one before the job is dispatched. Unlike FooocusAPI
 * (bad base64 ⇒ 500; a string starting with "http" that is no URL ⇒ silently no image), a
 * malformed string is a 422 that names the field.
 */
import type { ImageSource } from './generationJob.ts';
import { NO_IMAGE_MARKERS } from './fooocusConstants.ts';

export type ImageStringShape = 'none' | 'url' | 'base64' | 'invalid';

const BASE64_BODY = /^[A-Za-z0-9+/_-]+={0,2}$/;
const DATA_URL_PREFIX = /^data:image\//i;

export function isNoImage(value: string | null | undefined): boolean {
  return value === null || value === undefined || NO_IMAGE_MARKERS.has(value);
}

/** Classify a wire image string without decoding it. */
export function imageStringShape(value: string | null | undefined): ImageStringShape {
  if (isNoImage(value)) return 'none';
  const s = value as string;
  // FooocusAPI fetches anything starting with "http"; no image's base64 starts that way.
  if (/^\s*http/i.test(s)) return isHttpUrl(s) ? 'url' : 'invalid';
  return base64Body(s) === null ? 'invalid' : 'base64';
}

/** The `ImageSource` for a wire string, or null for "no image"; throws RangeError on a malformed one. */
export function toImageSource(value: string | null | undefined): ImageSource | null {
  const shape = imageStringShape(value);
  if (shape === 'none') return null;
  const s = value as string;
  if (shape === 'url') return { kind: 'url', url: s.trim() };
  const data = base64Body(s);
  if (data === null) throw new RangeError('image must be an http(s) URL or base64 data');
  return { kind: 'base64', data, mediaType: dataUrlMediaType(s) };
}

function isHttpUrl(s: string): boolean {
  try {
    const u = new URL(s.trim());
    return (u.protocol === 'http:' || u.protocol === 'https:') && u.hostname !== '';
  } catch {
    return false;
  }
}

/**
 * The base64 payload with any `data:image/...,` prefix and whitespace removed, or null when the
 * string is not base64. Standard and URL-safe alphabets; padding optional (a length of 4k+1 can
 * never decode).
 */
function base64Body(s: string): string | null {
  let body = s;
  if (DATA_URL_PREFIX.test(body)) {
    const comma = body.indexOf(',');
    if (comma < 0) return null;
    body = body.slice(comma + 1);
  }
  body = body.replace(/\s+/g, '');
  if (body.length === 0 || !BASE64_BODY.test(body)) return null;
  if (body.replace(/=+$/, '').length % 4 === 1) return null;
  return body;
}

function dataUrlMediaType(s: string): string | null {
  const m = /^data:(image\/[A-Za-z0-9.+-]+)[;,]/i.exec(s);
  return m ? m[1].toLowerCase() : null;
}
