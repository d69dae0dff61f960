import { createHash, randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DownloadChecksumError } from '../infra/models/downloadModel.ts';
import { InvalidModelPathError, ModelStore } from '../infra/models/modelStore.ts';
import { DefaultModelsError, ensureDefaultModels, loadModelDownloadList, ModelDownloadListError } from './ensureDefaultModels.ts';

const files: Record<string, Buffer> = { '/ckpt': randomBytes(200_000), '/lora': randomBytes(50_000), '/onnx': randomBytes(10_000) };
const sha = (b: Buffer) => createHash('sha256').update(b).digest('hex');
let server: Server;
let base: string;
let root: string;
let hits: string[] = [];

beforeAll(async () => {
  server = createServer((req, res) => {
    hits.push(req.url ?? '');
    const body = files[req.url ?? ''];
    if (!body) return void res.writeHead(404).end();
    res.writeHead(200, { 'Content-Length': body.length }).end(body);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  root = mkdtempSync(join(tmpdir(), 'ensure-models-'));
});
afterAll(async () => {
  await new Promise((r) => server.close(r));
  rmSync(root, { recursive: true, force: true });
});

describe('loadModelDownloadList (MODEL_DOWNLOADS)', () => {
  it('accepts nothing, inline JSON, or a JSON file', async () => {
    expect(await loadModelDownloadList(undefined)).toEqual([]);
    expect(await loadModelDownloadList('  ')).toEqual([]);
    const list = [{ path: 'checkpoints/a.safetensors', url: 'https://example.invalid/a', sha256: 'a'.repeat(64), size: 3 }];
    expect(await loadModelDownloadList(JSON.stringify(list))).toEqual(list);
    const file = join(root, 'downloads.json');
    writeFileSync(file, JSON.stringify(list));
    expect(await loadModelDownloadList(file)).toEqual(list);
  });

  it('fails fast with a readable message naming the bad entry', async () => {
    await expect(loadModelDownloadList('[{"path": "x", "url": "ftp://x"}]')).rejects.toThrow(/MODEL_DOWNLOADS: \[0\.url\] must be an http\(s\) URL/);
    await expect(loadModelDownloadList('[{"path": "x", "url": "https://x/y", "sha256": "abc"}]')).rejects.toThrow(/\[0\.sha256\] must be 64 hex digits/);
    await expect(loadModelDownloadList('[{"path": "x", "url": "https://x/y", "extra": 1}]')).rejects.toBeInstanceOf(ModelDownloadListError);
    await expect(loadModelDownloadList('[nope')).rejects.toThrow(/not valid JSON/);
    await expect(loadModelDownloadList(join(root, 'missing.json'))).rejects.toThrow(/cannot read the list file/);
  });
});

describe('ensureDefaultModels', () => {
  it('downloads what is missing, skips what exists, and a second start fetches nothing', async () => {
    const modelsDir = join(root, 'models1');
    mkdirSync(join(modelsDir, 'loras'), { recursive: true });
    writeFileSync(join(modelsDir, 'loras', 'present.safetensors'), 'already here');
    const store = new ModelStore({ modelsDir });
    const downloads = [
      { path: 'checkpoints/base.safetensors', url: `${base}/ckpt`, sha256: sha(files['/ckpt']), size: files['/ckpt'].length },
      { path: 'loras/present.safetensors', url: `${base}/lora` },
      { path: 'safety_checker/model.onnx', url: `${base}/onnx`, sha256: sha(files['/onnx']) },
    ];
    const progress: [string, number][] = [];
    hits = [];
    const res = await ensureDefaultModels({ store, downloads, progress: (s, p) => progress.push([s.path, p.received]) });
    expect(res).toEqual({ present: ['loras/present.safetensors'], downloaded: ['checkpoints/base.safetensors', 'safety_checker/model.onnx'] });
    expect(hits).toEqual(['/ckpt', '/onnx']);
    expect(readFileSync(join(modelsDir, 'checkpoints/base.safetensors')).equals(files['/ckpt'])).toBe(true);
    expect(progress.filter(([p]) => p === 'checkpoints/base.safetensors').at(-1)?.[1]).toBe(files['/ckpt'].length);
    expect(await store.list('checkpoints')).toEqual(['base.safetensors']);

    hits = [];
    expect(await ensureDefaultModels({ store, downloads, progress: 'none' })).toEqual({ present: downloads.map((d) => d.path), downloaded: [] });
    expect(hits).toEqual([]);
  });

  it('tries every entry, then reports all failures together; nothing unverified is left as a model', async () => {
    const modelsDir = join(root, 'models2');
    const store = new ModelStore({ modelsDir });
    const err = await ensureDefaultModels({
      store,
      progress: 'none',
      downloadOptions: { retryDelayMs: 1 },
      downloads: [
        { path: 'checkpoints/wrong.safetensors', url: `${base}/ckpt`, sha256: 'f'.repeat(64) },
        { path: 'checkpoints/gone.safetensors', url: `${base}/nothing` },
        { path: 'loras/ok.safetensors', url: `${base}/lora` },
      ],
    }).catch((e) => e);
    expect(err).toBeInstanceOf(DefaultModelsError);
    expect(err.failures.map((f: { path: string }) => f.path)).toEqual(['checkpoints/wrong.safetensors', 'checkpoints/gone.safetensors']);
    expect(err.failures[0].error).toBeInstanceOf(DownloadChecksumError);
    expect(existsSync(join(modelsDir, 'checkpoints/wrong.safetensors'))).toBe(false);
    expect(existsSync(join(modelsDir, 'loras/ok.safetensors'))).toBe(true);
  });

  it('refuses a path outside MODELS_DIR before downloading anything', async () => {
    hits = [];
    const store = new ModelStore({ modelsDir: join(root, 'models3') });
    await expect(
      ensureDefaultModels({ store, progress: 'none', downloads: [{ path: 'loras/a.safetensors', url: `${base}/lora` }, { path: '../escape.bin', url: `${base}/lora` }] }),
    ).rejects.toBeInstanceOf(InvalidModelPathError);
    expect(hits).toEqual([]);
  });
});
