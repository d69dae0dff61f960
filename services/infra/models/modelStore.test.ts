import { createHash } from 'node:crypto';
import { mkdirSync, mkdtempSync, rmSync, statSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { cachedFileSha256 } from '../../shared/fileSha256.ts';
import { InvalidModelNameError, ModelFileNotFoundError } from './modelDirectory.ts';
import { InvalidModelPathError, ModelStore } from './modelStore.ts';

const root = mkdtempSync(join(tmpdir(), 'model-store-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));

function put(rel: string, content: string | Buffer): string {
  const path = join(root, rel);
  mkdirSync(join(path, '..'), { recursive: true });
  writeFileSync(path, content);
  return path;
}
const sha = (b: string | Buffer) => createHash('sha256').update(b).digest('hex');

describe('ModelStore', () => {
  put('checkpoints/juggernautXL.safetensors', 'checkpoint bytes');
  put('checkpoints/sdxl/b.ckpt', 'b');
  put('loras/detail.safetensors', 'lora');
  put('checkpoints/readme.txt', 'not a model');
  const store = new ModelStore({ modelsDir: root });

  it('lists every kind (missing folders empty) and resolves names like modelDirectory', async () => {
    const all = await store.listAll();
    expect(all.checkpoints).toEqual(['juggernautXL.safetensors', 'sdxl/b.ckpt']);
    expect(all.loras).toEqual(['detail.safetensors']);
    expect(all.vae).toEqual([]);
    expect(Object.keys(all)).toEqual(['checkpoints', 'loras', 'vae', 'embeddings', 'upscale_models', 'prompt_expansion', 'controlnet', 'clip_vision', 'inpaint']);
    expect(await store.resolve('loras', 'detail.safetensors')).toBe(join(root, 'loras/detail.safetensors'));
    await expect(store.resolve('loras', '../checkpoints/sdxl/b.ckpt')).rejects.toBeInstanceOf(InvalidModelNameError);
    await expect(store.sha256('loras', 'nope.safetensors')).rejects.toBeInstanceOf(ModelFileNotFoundError);
  });

  it('hashes a model file once: an unchanged (size, mtime) is answered from the index without reading', async () => {
    const path = put('checkpoints/cached.safetensors', 'AAAA');
    utimesSync(path, 1_700_000_000, 1_700_000_000); // whole seconds: restorable exactly
    expect(await store.sha256('checkpoints', 'cached.safetensors')).toBe(sha('AAAA'));
    // Same size, same mtime, different bytes: a re-read would see BBBB, the index answers AAAA.
    writeFileSync(path, 'BBBB');
    utimesSync(path, 1_700_000_000, 1_700_000_000);
    expect(statSync(path).mtimeMs).toBe(1_700_000_000_000);
    expect(await store.sha256('checkpoints', 'cached.safetensors')).toBe(sha('AAAA'));
    // A new mtime is a changed file: hashed again.
    utimesSync(path, 1_700_000_100, 1_700_000_100);
    expect(await store.sha256('checkpoints', 'cached.safetensors')).toBe(sha('BBBB'));
    // The index is the engine's (same directory, same file): the engine gets the hash for free.
    expect(await cachedFileSha256(path, join(root, '.onnx-cache'))).toBe(sha('BBBB'));
  });

  it('shares one read between concurrent requests for the same file', async () => {
    let reads = 0;
    const counting = new ModelStore({
      modelsDir: root,
      hashFile: async (path, dir) => {
        reads++;
        await new Promise((r) => setTimeout(r, 20));
        return cachedFileSha256(path, dir);
      },
    });
    const [a, b] = await Promise.all([counting.sha256('loras', 'detail.safetensors'), counting.sha256('loras', 'detail.safetensors')]);
    expect(a).toBe(sha('lora'));
    expect(b).toBe(a);
    expect(reads).toBe(1);
  });

  it('download targets stay inside MODELS_DIR and may have any extension', () => {
    expect(store.downloadTarget('safety_checker/model.onnx')).toBe(join(root, 'safety_checker/model.onnx'));
    expect(store.downloadTarget('prompt_expansion\\fooocus_expansion\\pytorch_model.bin')).toBe(join(root, 'prompt_expansion/fooocus_expansion/pytorch_model.bin'));
    for (const bad of ['', '../x.safetensors', 'a/../../x', '/etc/passwd', 'C:\\x', 'a//b', 'a\u0000b']) {
      expect(() => store.downloadTarget(bad), bad).toThrow(InvalidModelPathError);
    }
  });
});
