/**
 * The one error the URL fetcher throws. `code` is a closed vocabulary so callers map it
 * without parsing messages (inputImages → 422/413, webhook delivery → retry or give up); the
 * message names the URL with credentials and the query string removed — query strings of
 * presigned URLs are credentials too, and these messages reach logs and HTTP responses.
 */
export type UrlFetchErrorCode =
  /** Not a parsable absolute URL. */
  | 'invalid_url'
  /** Scheme other than http/https (also on a redirect hop). */
  | 'scheme_not_allowed'
  /** The host is, or resolves to, a refused address (any one of its addresses). */
  | 'address_not_allowed'
  /** Content-Length or the streamed body exceeded the byte cap. */
  | 'too_large'
  /** The overall time cap (connect + redirects + body) was exceeded. */
  | 'timeout'
  /** A GET answered with a non-2xx status (after redirects). */
  | 'http_status'
  /** More redirect hops than allowed (or a redirect without a usable Location). */
  | 'too_many_redirects'
  /** The host name did not resolve. */
  | 'dns_failure'
  /** Connection refused/reset, TLS failure, malformed response, … */
  | 'network_error'
  /** The caller's own AbortSignal fired. */
  | 'aborted';

export class UrlFetchError extends Error {
  readonly code: UrlFetchErrorCode;
  /** The URL concerned (the redirect hop that failed), redacted. */
  readonly url: string;
  /** The response status, for `http_status`. */
  readonly status?: number;

  constructor(code: UrlFetchErrorCode, url: string, detail: string, options: { status?: number; cause?: unknown } = {}) {
    const shown = redactUrl(url);
    super(`${shown}: ${detail}`, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'UrlFetchError';
    this.code = code;
    this.url = shown;
    if (options.status !== undefined) this.status = options.status;
  }
}

export function isUrlFetchError(e: unknown): e is UrlFetchError {
  return e instanceof UrlFetchError;
}

/** `https://user:pw@host/p?sig=…#f` → `https://host/p?…`; unparsable input is cut short. */
export function redactUrl(url: string | URL): string {
  try {
    const u = new URL(String(url));
    return `${u.protocol}//${u.host}${u.pathname}${u.search ? '?…' : ''}`;
  } catch {
    const s = String(url).replace(/\/\/[^/@]*@/, '//');
    return JSON.stringify(s.length > 80 ? `${s.slice(0, 80)}…` : s);
  }
}
