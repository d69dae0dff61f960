/**
 * The one SSRF-safe HTTP client for user-supplied URLs (reliability.md B9): image inputs
 * (`get`) and webhook delivery (`post`), plus `check` to vet a `webhook_url` at submission.
 *
 * How each rule is enforced:
 * - Schemes: http and https only, on the first URL and on every redirect hop.
 * - Addresses: the host name is resolved with dns.lookup (ALL addresses) and every one is
 *   checked against addressPolicy.ts; one refused address refuses the URL (a name that
 *   resolves to a public and a private address is a rebinding attempt). IP literals are
 *   checked as they are.
 * - Pinning (no TOCTOU, unlike A1111's verify_url, ecosystem.md A2): the request is made with
 *   node:http(s) and a custom `lookup` that answers with the addresses just checked, so the
 *   socket connects to a checked IP even if DNS changes between check and connect. Node's
 *   global fetch (undici) takes no http.Agent/lookup, hence node:http. A fresh agent per
 *   request (`agent: false`): no pooled socket from another host/check is reused. TLS still
 *   verifies the certificate against the host NAME (SNI = the URL's host).
 * - Redirects: followed manually for GET only (each hop re-checked, at most maxRedirects);
 *   POST never follows them (Standard Webhooks: a 3xx is a failed delivery).
 * - Bytes: a Content-Length above the cap fails before reading; the body is counted while
 *   streaming and the socket destroyed as soon as the cap is passed.
 * - Time: one deadline for the whole exchange (DNS, connect, every hop, the body), combined
 *   with the caller's AbortSignal.
 * Credentials in a URL (`user:pw@`) are never sent, and never appear in error messages.
 */
import { lookup as dnsLookup } from 'node:dns/promises';
import http, { type IncomingHttpHeaders, type IncomingMessage } from 'node:http';
import https from 'node:https';
import type { LookupFunction } from 'node:net';
import { parseIp, refusedReason, type AddressPolicy } from './addressPolicy.ts';
import { UrlFetchError } from './urlFetchError.ts';

export interface ResolvedAddress {
  address: string;
  family: 4 | 6;
}

/** Resolves a host name to all its addresses (dns.lookup semantics: /etc/hosts, then DNS). */
export type HostResolver = (hostname: string) => Promise<ResolvedAddress[]>;

export interface UrlFetcherOptions extends AddressPolicy {
  /** Deadline for one whole fetch (DNS, connect, redirects, body). Default 15 000 ms. */
  timeoutMs?: number;
  /** Redirect hops a GET follows. Default 3. POST never follows redirects. */
  maxRedirects?: number;
  /** Byte cap for a GET body. Default 20 MiB. */
  maxBytes?: number;
  /** `User-Agent` header. Default 'fooocus-cloud'. */
  userAgent?: string;
  /** Host name resolution. Default dns.lookup with `all: true` (tests inject one to simulate rebinding). */
  resolve?: HostResolver;
}

export interface CallOptions {
  /** Overrides the fetcher's timeoutMs for this call. */
  timeoutMs?: number;
  /** Cancels the call (error code `aborted`). */
  signal?: AbortSignal;
}

export interface GetOptions extends CallOptions {
  /** Overrides the fetcher's maxBytes for this call. */
  maxBytes?: number;
  /** `Accept` header. Default `image/*,*\/*;q=0.8`. */
  accept?: string;
}

export interface PostOptions extends CallOptions {
  /** Request headers (content-type etc.); host/content-length are set by the fetcher. */
  headers?: Record<string, string>;
}

export interface FetchedBody {
  /** The URL of the last hop (after redirects). */
  url: string;
  status: number;
  contentType: string | null;
  bytes: Buffer;
}

export interface PostResponse {
  status: number;
  headers: IncomingHttpHeaders;
  /** At most the first 4 KiB of the response body (for error messages); the rest is discarded. */
  bodySnippet: string;
}

export interface UrlFetcher {
  /** GET with redirects (re-checked each hop) and the byte cap; non-2xx → UrlFetchError `http_status`. */
  get(url: string, options?: GetOptions): Promise<FetchedBody>;
  /** One POST, redirects not followed; any status is returned (the caller decides what failed). */
  post(url: string, body: string | Uint8Array, options?: PostOptions): Promise<PostResponse>;
  /** Scheme and address checks only (resolves, never connects): for `webhook_url` at submission. */
  check(url: string, options?: CallOptions): Promise<void>;
}

export const DEFAULT_FETCH_TIMEOUT_MS = 15_000;
export const DEFAULT_MAX_REDIRECTS = 3;
export const DEFAULT_MAX_FETCH_BYTES = 20 * 1024 * 1024;
const POST_SNIPPET_BYTES = 4096;
const REDIRECT_STATUSES = new Set([301, 302, 303, 307, 308]);

export const dnsResolver: HostResolver = async (hostname) => {
  const answers = await dnsLookup(hostname, { all: true, order: 'verbatim' });
  return answers.map((a) => ({ address: a.address, family: a.family === 6 ? 6 : 4 }));
};

export function createUrlFetcher(options: UrlFetcherOptions = {}): UrlFetcher {
  const {
    timeoutMs = DEFAULT_FETCH_TIMEOUT_MS,
    maxRedirects = DEFAULT_MAX_REDIRECTS,
    maxBytes = DEFAULT_MAX_FETCH_BYTES,
    userAgent = 'fooocus-cloud',
    resolve = dnsResolver,
  } = options;
  const policy: AddressPolicy = { allowPrivate: options.allowPrivate, allowCidrs: options.allowCidrs, denyCidrs: options.denyCidrs };
  // Validate the CIDR lists now (a typo should fail at start-up, not on the first request).
  refusedReason('0.0.0.0', policy);

  async function resolveChecked(url: URL, deadline: Deadline): Promise<ResolvedAddress[]> {
    if (url.protocol !== 'http:' && url.protocol !== 'https:') {
      throw new UrlFetchError('scheme_not_allowed', url.href, `scheme '${url.protocol.replace(/:$/, '')}' is not allowed (http, https only)`);
    }
    const host = url.hostname;
    const literal = parseIp(host);
    if (literal) {
      const address = host.replace(/^\[|\]$/g, '');
      const reason = refusedReason(address, policy);
      if (reason) throw new UrlFetchError('address_not_allowed', url.href, `address ${address} is not allowed (${reason})`);
      return [{ address, family: literal.version }];
    }
    let answers: ResolvedAddress[];
    try {
      answers = await deadline.race(resolve(host), url);
    } catch (err) {
      if (err instanceof UrlFetchError) throw err;
      throw new UrlFetchError('dns_failure', url.href, `host ${host} did not resolve (${(err as NodeJS.ErrnoException).code ?? String(err)})`, { cause: err });
    }
    if (answers.length === 0) throw new UrlFetchError('dns_failure', url.href, `host ${host} has no addresses`);
    for (const a of answers) {
      if (!parseIp(a.address)) throw new UrlFetchError('address_not_allowed', url.href, `host ${host} resolved to a non-address ${JSON.stringify(a.address)}`);
      const reason = refusedReason(a.address, policy);
      if (reason) throw new UrlFetchError('address_not_allowed', url.href, `host ${host} resolves to ${a.address}, which is not allowed (${reason})`);
    }
    return answers;
  }

  return {
    async get(input, call = {}) {
      const deadline = new Deadline(call.timeoutMs ?? timeoutMs, call.signal);
      const cap = call.maxBytes ?? maxBytes;
      try {
        let url = parseUrl(input);
        for (let hop = 0; ; hop++) {
          const addresses = await resolveChecked(url, deadline);
          const res = await exchange(url, addresses, deadline, {
            method: 'GET',
            headers: { 'user-agent': userAgent, accept: call.accept ?? 'image/*,*/*;q=0.8', 'accept-encoding': 'identity' },
            maxBytes: cap,
            oversize: 'error',
            stopBeforeBody: (status) => REDIRECT_STATUSES.has(status),
          });
          if (REDIRECT_STATUSES.has(res.status)) {
            const location = res.headers.location;
            if (hop >= maxRedirects) throw new UrlFetchError('too_many_redirects', url.href, `more than ${maxRedirects} redirects`);
            if (!location) throw new UrlFetchError('too_many_redirects', url.href, `redirect ${res.status} without a Location header`);
            try {
              url = new URL(location, url);
            } catch (err) {
              throw new UrlFetchError('too_many_redirects', url.href, `redirect to an invalid URL`, { cause: err });
            }
            continue;
          }
          if (res.status < 200 || res.status > 299) {
            throw new UrlFetchError('http_status', url.href, `answered HTTP ${res.status}`, { status: res.status });
          }
          const type = res.headers['content-type'];
          return { url: url.href, status: res.status, contentType: typeof type === 'string' ? type : null, bytes: res.body };
        }
      } finally {
        deadline.dispose();
      }
    },

    async post(input, body, call = {}) {
      const deadline = new Deadline(call.timeoutMs ?? timeoutMs, call.signal);
      try {
        const url = parseUrl(input);
        const addresses = await resolveChecked(url, deadline);
        const payload = typeof body === 'string' ? Buffer.from(body) : Buffer.from(body.buffer, body.byteOffset, body.byteLength);
        const res = await exchange(url, addresses, deadline, {
          method: 'POST',
          headers: { 'user-agent': userAgent, ...call.headers, 'content-length': String(payload.length) },
          body: payload,
          maxBytes: POST_SNIPPET_BYTES,
          oversize: 'truncate',
        });
        return { status: res.status, headers: res.headers, bodySnippet: res.body.toString('utf8') };
      } finally {
        deadline.dispose();
      }
    },

    async check(input, call = {}) {
      const deadline = new Deadline(call.timeoutMs ?? timeoutMs, call.signal);
      try {
        await resolveChecked(parseUrl(input), deadline);
      } finally {
        deadline.dispose();
      }
    },
  };
}

function parseUrl(input: string): URL {
  try {
    return new URL(input);
  } catch (err) {
    throw new UrlFetchError('invalid_url', input, 'not a valid absolute URL', { cause: err });
  }
}

// ---- one HTTP exchange ------------------------------------------------------------------

interface ExchangeOptions {
  method: 'GET' | 'POST';
  headers: Record<string, string>;
  body?: Buffer;
  maxBytes: number;
  /** 'error': UrlFetchError too_large; 'truncate': keep the first maxBytes, drop the rest. */
  oversize: 'error' | 'truncate';
  /** Statuses whose body is not read (redirects). */
  stopBeforeBody?: (status: number) => boolean;
}

interface Exchanged {
  status: number;
  headers: IncomingHttpHeaders;
  body: Buffer;
}

/** Answers Node's socket lookup with the pre-checked addresses only (DNS pinning). */
function pinnedLookup(addresses: readonly ResolvedAddress[]): LookupFunction {
  return ((_hostname: string, options: { family?: number | string; all?: boolean } | number, callback: (...args: unknown[]) => void) => {
    const opts = typeof options === 'number' ? { family: options } : (options ?? {});
    const family = opts.family === 'IPv4' ? 4 : opts.family === 'IPv6' ? 6 : Number(opts.family ?? 0);
    const usable = family === 4 || family === 6 ? addresses.filter((a) => a.family === family) : addresses;
    if (usable.length === 0) {
      const err: NodeJS.ErrnoException = new Error('no checked address of the requested family');
      err.code = 'ENOTFOUND';
      callback(err);
      return;
    }
    if (opts.all) callback(null, usable.map((a) => ({ address: a.address, family: a.family })));
    else callback(null, usable[0].address, usable[0].family);
  }) as LookupFunction;
}

function exchange(url: URL, addresses: readonly ResolvedAddress[], deadline: Deadline, o: ExchangeOptions): Promise<Exchanged> {
  return new Promise<Exchanged>((resolvePromise, rejectPromise) => {
    let done = false;
    const finish = (err: UrlFetchError | null, value?: Exchanged) => {
      if (done) return;
      done = true;
      deadline.offAbort(onAbort);
      if (err) {
        req.destroy();
        rejectPromise(err);
      } else resolvePromise(value!);
    };
    const onAbort = () => finish(deadline.error(url));

    const transport = url.protocol === 'https:' ? https : http;
    const req = transport.request({
      protocol: url.protocol,
      hostname: url.hostname.replace(/^\[|\]$/g, ''),
      port: url.port || undefined,
      path: `${url.pathname}${url.search}`,
      method: o.method,
      headers: o.headers,
      agent: false,
      lookup: pinnedLookup(addresses),
    });
    if (deadline.aborted) return onAbort();
    deadline.onAbort(onAbort);

    req.on('error', (err: NodeJS.ErrnoException) => {
      finish(new UrlFetchError('network_error', url.href, `request failed (${err.code ?? err.message})`, { cause: err }));
    });
    req.on('response', (res: IncomingMessage) => {
      const status = res.statusCode ?? 0;
      if (o.stopBeforeBody?.(status)) {
        res.resume();
        finish(null, { status, headers: res.headers, body: Buffer.alloc(0) });
        return;
      }
      const declared = Number(res.headers['content-length']);
      if (o.oversize === 'error' && Number.isFinite(declared) && declared > o.maxBytes) {
        finish(new UrlFetchError('too_large', url.href, `Content-Length ${declared} exceeds the limit of ${o.maxBytes} bytes`));
        return;
      }
      const chunks: Buffer[] = [];
      let received = 0;
      res.on('data', (chunk: Buffer) => {
        if (done) return;
        received += chunk.length;
        if (received > o.maxBytes) {
          if (o.oversize === 'error') {
            finish(new UrlFetchError('too_large', url.href, `body exceeds the limit of ${o.maxBytes} bytes`));
            return;
          }
          chunks.push(chunk.subarray(0, chunk.length - (received - o.maxBytes)));
          finish(null, { status, headers: res.headers, body: Buffer.concat(chunks) });
          res.destroy(); // the rest is not wanted: stop reading it
          return;
        }
        chunks.push(chunk);
      });
      res.on('end', () => finish(null, { status, headers: res.headers, body: Buffer.concat(chunks) }));
      res.on('error', (err: NodeJS.ErrnoException) =>
        finish(new UrlFetchError('network_error', url.href, `response failed (${err.code ?? err.message})`, { cause: err })),
      );
      res.on('aborted', () => finish(new UrlFetchError('network_error', url.href, 'connection closed before the body ended')));
    });
    req.end(o.body);
  });
}

// ---- deadline ---------------------------------------------------------------------------

/** The overall time cap of one fetch, merged with the caller's signal. */
class Deadline {
  private readonly controller = new AbortController();
  private readonly timer: NodeJS.Timeout;
  private timedOut = false;

  constructor(
    readonly timeoutMs: number,
    private readonly callerSignal?: AbortSignal,
  ) {
    this.timer = setTimeout(() => {
      this.timedOut = true;
      this.controller.abort();
    }, timeoutMs);
    this.timer.unref();
    if (callerSignal) {
      if (callerSignal.aborted) this.controller.abort();
      else callerSignal.addEventListener('abort', this.forward, { once: true });
    }
  }

  private readonly forward = () => this.controller.abort();

  get aborted(): boolean {
    return this.controller.signal.aborted;
  }

  error(url: URL): UrlFetchError {
    return this.timedOut
      ? new UrlFetchError('timeout', url.href, `no complete response within ${this.timeoutMs} ms`)
      : new UrlFetchError('aborted', url.href, 'aborted by the caller', { cause: this.callerSignal?.reason });
  }

  onAbort(fn: () => void): void {
    this.controller.signal.addEventListener('abort', fn, { once: true });
  }

  offAbort(fn: () => void): void {
    this.controller.signal.removeEventListener('abort', fn);
  }

  /** Rejects with the deadline's error if it passes first (dns.lookup itself cannot be cancelled). */
  race<T>(promise: Promise<T>, url: URL): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      const onAbort = () => reject(this.error(url));
      if (this.aborted) return onAbort();
      this.onAbort(onAbort);
      promise.then(
        (v) => {
          this.offAbort(onAbort);
          resolve(v);
        },
        (e) => {
          this.offAbort(onAbort);
          reject(e);
        },
      );
    });
  }

  dispose(): void {
    clearTimeout(this.timer);
    this.callerSignal?.removeEventListener('abort', this.forward);
  }
}
