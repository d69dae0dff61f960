// Downloads one model file the way Fooocus does on first start (F modules/model_loader.py
// `load_file_from_url`: skip what exists, else fetch with a progress bar), made safe for large
// files on flaky links and for several workers sharing a models volume:
//
//   - bytes go to `<dest>.part`; an interrupted download resumes from the part's size with an
//     HTTP Range request (206 → append; a server that ignores Range answers 200 → restart;
//     416 on a complete part → verify it);
//   - the transfer is retried (default 3 more attempts, delay doubling from 1 s) on network
//     errors, a cut or stalled connection (no byte for `idleTimeoutMs`), HTTP 5xx/408/429,
//     and on a body shorter than announced; a 4xx is final;
//   - complete means the announced length (Content-Length / Content-Range total) and, when
//     configured, the expected size; short → DownloadTruncatedError (the part is kept, the next
//     call resumes), long or different → the part is corrupt;
//   - the sha256, when configured, is checked before the part becomes the file: a mismatch
//     removes the part and throws DownloadChecksumError (after one fresh retry if the bad bytes
//     may have come from an older part); the file appears only by an atomic rename after fsync,
//     so a model file that exists is always complete;
//   - `<dest>.part.lock` (created exclusively, touched while bytes flow) keeps two processes
//     from writing the same part: the second waits for the first and then finds the file;
//     a lock untouched for `staleLockMs` belongs to a dead process and is taken over.
//
// URLs are shown without their query string in errors and progress (signed URLs carry tokens).
import { createHash, type Hash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { mkdir, open, readFile, rename, stat, unlink, utimes, writeFile } from 'node:fs/promises';
import { hostname } from 'node:os';
import { dirname } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';

export interface DownloadProgress {
  /** URL without its query string. */
  url: string;
  dest: string;
  /** Bytes in the part file so far (resumed bytes included). */
  received: number;
  /** Full size when known. */
  total: number | null;
  /** Bytes that were already there when this transfer started. */
  resumedFrom: number;
}

export interface DownloadModelOptions {
  url: string;
  /** Final path; written only complete (and verified). */
  dest: string;
  /** Expected sha256, hex. Strongly recommended: without it only the length is checked. */
  sha256?: string;
  /** Expected size in bytes. */
  size?: number;
  onProgress?: (p: DownloadProgress) => void;
  /** Attempts after the first. Default 3. */
  retries?: number;
  /** Delay before the first retry, doubled each time. Default 1000 ms. */
  retryDelayMs?: number;
  /** A transfer with no byte for this long is cut and retried. Default 60 s. */
  idleTimeoutMs?: number;
  /** A lock file untouched for this long is considered abandoned. Default 60 s. */
  staleLockMs?: number;
  /** Extra request headers (e.g. Authorization); never logged. */
  headers?: Record<string, string>;
  signal?: AbortSignal;
  /** Default: global fetch. */
  fetch?: typeof fetch;
}

export interface DownloadResult {
  path: string;
  bytes: number;
  sha256: string;
  /** Transfers made (0 when another process had just finished the file). */
  attempts: number;
  /** Bytes that came from an earlier, interrupted run. */
  resumedFrom: number;
}

export type DownloadFailure = 'http_status' | 'truncated' | 'checksum_mismatch' | 'size_mismatch' | 'network';

export class ModelDownloadError extends Error {
  constructor(
    readonly url: string,
    readonly dest: string,
    readonly reason: DownloadFailure,
    detail: string,
    options?: { cause?: unknown },
  ) {
    super(`download of ${url} to ${dest} failed: ${detail}`, options);
    this.name = new.target.name;
  }
}

/** The server kept sending less than the file's length; the part is kept for a later resume. */
export class DownloadTruncatedError extends ModelDownloadError {
  constructor(url: string, dest: string, readonly received: number, readonly expected: number, options?: { cause?: unknown }) {
    super(url, dest, 'truncated', `got ${received} of ${expected} bytes`, options);
  }
}

/** The bytes are complete but not the expected file (sha256); the part was removed. */
export class DownloadChecksumError extends ModelDownloadError {
  constructor(url: string, dest: string, readonly expected: string, readonly actual: string) {
    super(url, dest, 'checksum_mismatch', `sha256 ${actual} does not match the expected ${expected}; the download was removed`);
  }
}

export class DownloadHttpError extends ModelDownloadError {
  constructor(url: string, dest: string, readonly status: number) {
    super(url, dest, 'http_status', `HTTP ${status}`);
  }
}

/** A failure worth another attempt (cut connection, 5xx, short body). */
class RetryableTransferError extends Error {
  constructor(message: string, readonly lastError: ModelDownloadError) {
    super(message);
  }
}

export async function downloadModel(options: DownloadModelOptions): Promise<DownloadResult> {
  const url = redactUrl(options.url);
  const { dest } = options;
  const part = `${dest}.part`;
  await mkdir(dirname(dest), { recursive: true });
  const lock = await acquireLock(`${part}.lock`, options.staleLockMs ?? 60_000, options.signal);
  try {
    const existing = await stat(dest).catch(() => null);
    if (existing?.isFile()) {
      // Another process finished it while this one waited for the lock.
      const sha256 = await sha256OfFile(dest);
      if (options.sha256 && sha256 !== options.sha256.toLowerCase()) throw new DownloadChecksumError(url, dest, options.sha256.toLowerCase(), sha256);
      return { path: dest, bytes: existing.size, sha256, attempts: 0, resumedFrom: 0 };
    }
    return await transferWithRetries(options, url, part, lock);
  } finally {
    await lock.release();
  }
}

async function transferWithRetries(options: DownloadModelOptions, url: string, part: string, lock: Lock): Promise<DownloadResult> {
  const { dest } = options;
  const retries = options.retries ?? 3;
  const expectedSha = options.sha256?.toLowerCase();
  const firstResume = (await stat(part).catch(() => null))?.size ?? 0;
  let freshRetryUsed = false;
  let attempts = 0;
  let delay = options.retryDelayMs ?? 1000;
  for (;;) {
    attempts++;
    try {
      const { bytes, sha256, startedAt } = await transferOnce(options, url, part, lock);
      if (expectedSha && sha256 !== expectedSha) {
        await unlink(part).catch(() => {});
        // Bytes kept from an earlier part may be the bad ones: one clean download settles it.
        if (startedAt > 0 && !freshRetryUsed) {
          freshRetryUsed = true;
          continue;
        }
        throw new DownloadChecksumError(url, dest, expectedSha, sha256);
      }
      const fh = await open(part, 'r+');
      await fh.sync();
      await fh.close();
      await rename(part, dest);
      return { path: dest, bytes, sha256, attempts, resumedFrom: firstResume };
    } catch (err) {
      if (!(err instanceof RetryableTransferError)) throw err;
      if (options.signal?.aborted) throw options.signal.reason;
      if (attempts > retries) throw err.lastError;
      await sleep(delay, undefined, { signal: options.signal });
      delay *= 2;
    }
  }
}

interface TransferOutcome {
  bytes: number;
  sha256: string;
  /** Part size this attempt started from. */
  startedAt: number;
}

async function transferOnce(options: DownloadModelOptions, url: string, part: string, lock: Lock): Promise<TransferOutcome> {
  const { dest } = options;
  const doFetch = options.fetch ?? fetch;
  let offset = (await stat(part).catch(() => null))?.size ?? 0;
  if (options.size !== undefined && offset > options.size) {
    await unlink(part);
    offset = 0;
  }
  const controller = new AbortController();
  const onAbort = () => controller.abort(options.signal?.reason);
  options.signal?.addEventListener('abort', onAbort, { once: true });
  const idleMs = options.idleTimeoutMs ?? 60_000;
  let idle: NodeJS.Timeout | undefined;
  const armIdle = () => {
    clearTimeout(idle);
    idle = setTimeout(() => controller.abort(new Error(`no data for ${idleMs} ms`)), idleMs);
  };
  const retryable = (message: string, reason: DownloadFailure = 'network', cause?: unknown) =>
    new RetryableTransferError(message, new ModelDownloadError(url, dest, reason, message, { cause }));
  try {
    armIdle();
    let res: Response;
    try {
      res = await doFetch(options.url, {
        headers: { ...options.headers, ...(offset > 0 ? { Range: `bytes=${offset}-` } : {}) },
        signal: controller.signal,
        redirect: 'follow',
      });
    } catch (err) {
      if (options.signal?.aborted) throw options.signal.reason;
      throw retryable(`request failed (${(err as Error).message})`, 'network', err);
    }

    if (res.status === 416 && offset > 0) {
      // Range past the end: the part may already hold the whole file (a crash after the last
      // byte). Content-Range "bytes */<total>" says how long the file is.
      await res.body?.cancel();
      const total = /^bytes \*\/(\d+)$/.exec(res.headers.get('content-range') ?? '');
      const length = total ? Number(total[1]) : options.size;
      if (length === undefined || length !== offset) {
        await unlink(part).catch(() => {});
        throw retryable(`the server refused a resume at ${offset} (HTTP 416); starting over`);
      }
      return { bytes: offset, sha256: await sha256OfFile(part), startedAt: offset };
    }
    if (res.status !== 200 && res.status !== 206) {
      await res.body?.cancel();
      if (res.status >= 500 || res.status === 408 || res.status === 429) {
        throw new RetryableTransferError(`HTTP ${res.status}`, new DownloadHttpError(url, dest, res.status));
      }
      throw new DownloadHttpError(url, dest, res.status);
    }

    let total: number | null;
    if (res.status === 206) {
      const range = /^bytes (\d+)-(\d+)\/(\d+|\*)$/.exec(res.headers.get('content-range') ?? '');
      if (!range || Number(range[1]) !== offset) {
        // A range we did not ask for: start over rather than guess.
        await res.body?.cancel();
        await unlink(part).catch(() => {});
        throw retryable(`unexpected Content-Range '${res.headers.get('content-range')}' for a resume at ${offset}`);
      }
      total = range[3] === '*' ? null : Number(range[3]);
    } else {
      offset = 0; // the server ignored Range (or there was no part): the body is the whole file
      const length = res.headers.get('content-length');
      total = length === null ? null : Number(length);
    }
    if (options.size !== undefined && total !== null && total !== options.size) {
      await res.body?.cancel();
      await unlink(part).catch(() => {});
      throw new ModelDownloadError(url, dest, 'size_mismatch', `the server announces ${total} bytes, expected ${options.size}`);
    }
    const expected = total ?? options.size ?? null;

    const hash = createHash('sha256');
    if (offset > 0) await hashFileInto(part, hash);
    const fh = await open(part, offset > 0 ? 'a' : 'w');
    let received = offset;
    let lastTouch = Date.now();
    const progress = (): DownloadProgress => ({ url, dest, received, total: expected, resumedFrom: offset });
    options.onProgress?.(progress());
    let streamError: unknown = null;
    try {
      if (!res.body) throw new Error('response has no body');
      for await (const chunk of res.body as unknown as AsyncIterable<Uint8Array>) {
        armIdle();
        await fh.write(chunk);
        hash.update(chunk);
        received += chunk.length;
        if (Date.now() - lastTouch > 2_000) {
          lastTouch = Date.now();
          await lock.touch();
        }
        options.onProgress?.(progress());
      }
    } catch (err) {
      streamError = err;
    } finally {
      await fh.close();
    }
    if (streamError !== null) {
      if (options.signal?.aborted) throw options.signal.reason;
      throw new RetryableTransferError(
        `connection lost after ${received} bytes`,
        expected !== null
          ? new DownloadTruncatedError(url, dest, received, expected, { cause: streamError })
          : new ModelDownloadError(url, dest, 'network', `connection lost after ${received} bytes`, { cause: streamError }),
      );
    }
    if (expected !== null && received < expected) {
      throw new RetryableTransferError(`short body: ${received} of ${expected} bytes`, new DownloadTruncatedError(url, dest, received, expected));
    }
    if (expected !== null && received > expected) {
      await unlink(part).catch(() => {});
      throw new ModelDownloadError(url, dest, 'size_mismatch', `received ${received} bytes, more than the ${expected} announced`);
    }
    return { bytes: received, sha256: hash.digest('hex'), startedAt: offset };
  } finally {
    clearTimeout(idle);
    options.signal?.removeEventListener('abort', onAbort);
  }
}

interface Lock {
  touch(): Promise<void>;
  release(): Promise<void>;
}

async function acquireLock(path: string, staleMs: number, signal?: AbortSignal): Promise<Lock> {
  for (;;) {
    signal?.throwIfAborted();
    try {
      await writeFile(path, JSON.stringify({ pid: process.pid, host: hostname(), since: new Date().toISOString() }), { flag: 'wx' });
      const lock: Lock = {
        touch: async () => {
          const now = new Date();
          await utimes(path, now, now).catch(() => {});
        },
        release: async () => {
          await unlink(path).catch(() => {});
        },
      };
      return lock;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
    }
    const held = await stat(path).catch(() => null);
    if (held && Date.now() - held.mtimeMs > staleMs) {
      // Abandoned (its owner stopped touching it): take it over. A racing taker fails on 'wx'.
      const owner = await readFile(path, 'utf8').catch(() => '');
      const again = await stat(path).catch(() => null);
      if (again && again.mtimeMs === held.mtimeMs && (await readFile(path, 'utf8').catch(() => '')) === owner) await unlink(path).catch(() => {});
      continue;
    }
    await sleep(Math.min(500, Math.max(50, staleMs / 4)), undefined, { signal });
  }
}

async function hashFileInto(path: string, hash: Hash): Promise<void> {
  for await (const chunk of createReadStream(path, { highWaterMark: 8 << 20 })) hash.update(chunk as Buffer);
}

async function sha256OfFile(path: string): Promise<string> {
  const hash = createHash('sha256');
  await hashFileInto(path, hash);
  return hash.digest('hex');
}

/** The URL without query string and credentials, for messages. */
export function redactUrl(url: string): string {
  try {
    const u = new URL(url);
    return `${u.protocol}//${u.host}${u.pathname}`;
  } catch {
    return url.split('?')[0];
  }
}
