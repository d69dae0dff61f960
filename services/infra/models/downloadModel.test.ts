// downloadModel against a real HTTP server on a free local port (no network is reachable here,
// and a real socket is what makes cut connections and short bodies real).
import { createHash, randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, utimesSync, writeFileSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { DownloadChecksumError, DownloadHttpError, downloadModel, DownloadTruncatedError, ModelDownloadError, type DownloadProgress } from './downloadModel.ts';
import { createProgressBar, formatProgressLine } from './downloadProgressBar.ts';

const FILE = randomBytes(3 * 1024 * 1024 + 17);
const SHA = createHash('sha256').update(FILE).digest('hex');

interface Behaviour {
  /** Close the socket after this many body bytes (per request, counted from the range start). */
  cutAfter?: (requestIndex: number) => number | null;
  /** Serve these bytes instead of FILE. */
  body?: Buffer;
  ignoreRange?: boolean;
  status?: (requestIndex: number) => number | null;
}

let server: Server;
let base: string;
let behaviour: Behaviour = {};
let requests: { url: string; range: string | undefined }[] = [];
let dir: string;

function handle(req: IncomingMessage, res: ServerResponse): void {
  const index = requests.length;
  requests.push({ url: req.url ?? '', range: req.headers.range });
  const status = behaviour.status?.(index);
  if (status) {
    res.writeHead(status).end();
    return;
  }
  const body = behaviour.body ?? FILE;
  let start = 0;
  const m = /^bytes=(\d+)-$/.exec(req.headers.range ?? '');
  if (m && !behaviour.ignoreRange) {
    start = Number(m[1]);
    if (start >= body.length) {
      res.writeHead(416, { 'Content-Range': `bytes */${body.length}` }).end();
      return;
    }
    res.writeHead(206, { 'Content-Length': body.length - start, 'Content-Range': `bytes ${start}-${body.length - 1}/${body.length}` });
  } else {
    res.writeHead(200, { 'Content-Length': body.length });
  }
  const cut = behaviour.cutAfter?.(index) ?? null;
  const slice = body.subarray(start, cut === null ? body.length : Math.min(body.length, start + cut));
  if (cut === null) {
    res.end(slice);
    return;
  }
  res.write(slice, () => setTimeout(() => res.socket?.destroy(), 10));
}

beforeAll(async () => {
  server = createServer(handle);
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  dir = mkdtempSync(join(tmpdir(), 'download-'));
});
afterAll(async () => {
  await new Promise((r) => server.close(r));
  rmSync(dir, { recursive: true, force: true });
});
beforeEach(() => {
  behaviour = {};
  requests = [];
});

let n = 0;
const dest = () => {
  const target = join(dir, `m${n++}`, 'checkpoints', 'model.safetensors');
  mkdirSync(join(target, '..'), { recursive: true });
  return target;
};
const fast = { retryDelayMs: 5, idleTimeoutMs: 5_000 };

describe('downloadModel', () => {
  it('downloads, verifies the sha256 and renames into place, reporting progress to the end', async () => {
    const target = dest();
    const seen: DownloadProgress[] = [];
    const res = await downloadModel({ url: `${base}/model?token=secret`, dest: target, sha256: SHA.toUpperCase(), onProgress: (p) => seen.push(p), ...fast });
    expect(res).toMatchObject({ path: target, bytes: FILE.length, sha256: SHA, attempts: 1, resumedFrom: 0 });
    expect(readFileSync(target).equals(FILE)).toBe(true);
    expect(existsSync(`${target}.part`)).toBe(false);
    expect(existsSync(`${target}.part.lock`)).toBe(false);
    expect(seen.at(-1)).toMatchObject({ received: FILE.length, total: FILE.length, url: `${base}/model` });
    expect(seen.every((p) => !p.url.includes('secret'))).toBe(true);
  });

  it('resumes after a cut connection with a Range request from the bytes already on disk', async () => {
    behaviour.cutAfter = (i) => (i === 0 ? 1_000_000 : null);
    const target = dest();
    const res = await downloadModel({ url: `${base}/model`, dest: target, sha256: SHA, ...fast });
    expect(res.attempts).toBe(2);
    expect(requests.map((r) => r.range)).toEqual([undefined, expect.stringMatching(/^bytes=\d+-$/)]);
    const resumedAt = Number(/bytes=(\d+)-/.exec(requests[1].range!)![1]);
    expect(resumedAt).toBeGreaterThan(0);
    expect(resumedAt).toBeLessThanOrEqual(1_000_000);
    expect(readFileSync(target).equals(FILE)).toBe(true);
  });

  it('a file that keeps arriving short is a DownloadTruncatedError; the part stays and a later run resumes it', async () => {
    behaviour.cutAfter = () => 500_000;
    const target = dest();
    const err = await downloadModel({ url: `${base}/model`, dest: target, sha256: SHA, retries: 1, ...fast }).catch((e) => e);
    expect(err).toBeInstanceOf(DownloadTruncatedError);
    expect(err).toMatchObject({ reason: 'truncated', expected: FILE.length });
    expect(err.received).toBeLessThan(FILE.length);
    expect(requests).toHaveLength(2);
    expect(existsSync(target)).toBe(false);
    const kept = statSync(`${target}.part`).size;
    expect(kept).toBeGreaterThan(0);

    behaviour = {};
    requests = [];
    const res = await downloadModel({ url: `${base}/model`, dest: target, sha256: SHA, ...fast });
    expect(requests[0].range).toBe(`bytes=${kept}-`);
    expect(res).toMatchObject({ resumedFrom: kept, attempts: 1 });
    expect(readFileSync(target).equals(FILE)).toBe(true);
  });

  it('a complete body shorter than the configured size is truncated, not accepted', async () => {
    behaviour.body = FILE.subarray(0, 1000);
    const target = dest();
    const err = await downloadModel({ url: `${base}/model`, dest: target, size: FILE.length, ...fast }).catch((e) => e);
    expect(err).toBeInstanceOf(ModelDownloadError);
    expect(err.reason).toBe('size_mismatch');
    expect(existsSync(target)).toBe(false);
  });

  it('corrupted bytes (sha256 mismatch) are refused and removed', async () => {
    const corrupt = Buffer.from(FILE);
    corrupt[12345] ^= 0xff;
    behaviour.body = corrupt;
    const target = dest();
    const err = await downloadModel({ url: `${base}/model`, dest: target, sha256: SHA, ...fast }).catch((e) => e);
    expect(err).toBeInstanceOf(DownloadChecksumError);
    expect(err).toMatchObject({ expected: SHA, actual: createHash('sha256').update(corrupt).digest('hex') });
    expect(existsSync(target)).toBe(false);
    expect(existsSync(`${target}.part`)).toBe(false);
    expect(requests).toHaveLength(1); // a fresh download that is wrong is not fetched again
  });

  it('a corrupt part left by an earlier run is detected and replaced by one clean download', async () => {
    const target = dest();
    const bad = Buffer.from(FILE.subarray(0, 2_000_000));
    bad[10] ^= 0xff;
    writeFileSync(`${target}.part`, bad);
    requests = [];
    const res = await downloadModel({ url: `${base}/model`, dest: target, sha256: SHA, ...fast });
    expect(requests.map((r) => r.range)).toEqual(['bytes=2000000-', undefined]);
    expect(res.sha256).toBe(SHA);
    expect(readFileSync(target).equals(FILE)).toBe(true);
  });

  it('restarts from zero when the server ignores Range, and retries 5xx but not 404', async () => {
    const target = dest();
    writeFileSync(`${target}.part`, FILE.subarray(0, 1234));
    behaviour.ignoreRange = true;
    behaviour.status = (i) => (i === 0 ? 503 : null);
    const res = await downloadModel({ url: `${base}/model`, dest: target, sha256: SHA, ...fast });
    expect(res.attempts).toBe(2);
    expect(readFileSync(target).equals(FILE)).toBe(true);

    behaviour.status = () => 404;
    requests = [];
    const err = await downloadModel({ url: `${base}/missing`, dest: dest(), ...fast }).catch((e) => e);
    expect(err).toBeInstanceOf(DownloadHttpError);
    expect(err.status).toBe(404);
    expect(requests).toHaveLength(1);
  });

  it('two downloads of the same file at once fetch it once: the second waits for the lock', async () => {
    const target = dest();
    const [a, b] = await Promise.all([
      downloadModel({ url: `${base}/model`, dest: target, sha256: SHA, ...fast }),
      downloadModel({ url: `${base}/model`, dest: target, sha256: SHA, ...fast }),
    ]);
    expect(requests).toHaveLength(1);
    expect([a.attempts, b.attempts].sort()).toEqual([0, 1]);
    expect(readFileSync(target).equals(FILE)).toBe(true);
  });

  it('takes over a lock abandoned by a dead process', async () => {
    const target = dest();
    writeFileSync(`${target}.part.lock`, '{"pid": 1}');
    utimesSync(`${target}.part.lock`, 1_000_000, 1_000_000);
    await downloadModel({ url: `${base}/model`, dest: target, sha256: SHA, staleLockMs: 200, ...fast });
    expect(readFileSync(target).equals(FILE)).toBe(true);
  });
});

describe('progress bar', () => {
  it('formats size, percentage, rate and ETA', () => {
    const line = formatProgressLine({ url: 'u', dest: 'd', received: 512 * 1024 * 1024, total: 1024 * 1024 * 1024, resumedFrom: 0 }, 16, 'juggernaut.safetensors', 200);
    expect(line).toBe('[##########----------]   50.0%  512.0 MiB / 1.0 GiB  32.0 MiB/s  ETA 16s  juggernaut.safetensors');
  });

  it('prints one line per 10 % when the output is not a terminal', () => {
    let out = '';
    const stream = new Writable({ write: (c, _e, cb) => ((out += String(c)), cb()) });
    let t = 0;
    const bar = createProgressBar({ stream, label: 'x', now: () => (t += 100) });
    for (let r = 0; r <= 1000; r += 50) bar.update({ url: 'u', dest: 'd', received: r, total: 1000, resumedFrom: 0 });
    bar.done();
    expect(out.trim().split('\n')).toHaveLength(11);
    expect(out).toContain('100.0%');
  });
});
