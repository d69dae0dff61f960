import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { InvalidModelNameError, listModelFiles, ModelFileNotFoundError, resolveModelFile } from './modelDirectory.ts';

describe('model directory', () => {
  let modelsDir: string;

  beforeAll(() => {
    modelsDir = mkdtempSync(join(tmpdir(), 'fooocus-models-'));
    const touch = (rel: string) => {
      const path = join(modelsDir, rel);
      mkdirSync(join(path, '..'), { recursive: true });
      writeFileSync(path, 'x');
    };
    touch('checkpoints/juggernautXL.safetensors');
    touch('checkpoints/SDXL/b-model.ckpt');
    touch('checkpoints/sdxl/a-model.safetensors');
    touch('checkpoints/Animagine.SAFETENSORS');
    touch('checkpoints/readme.txt');
    touch('checkpoints/.hidden/secret.safetensors');
    touch('loras/detail.pt');
    touch('elsewhere/outside.safetensors');
    symlinkSync(join(modelsDir, 'elsewhere/outside.safetensors'), join(modelsDir, 'loras/linked.safetensors'));
    symlinkSync(join(modelsDir, 'missing.safetensors'), join(modelsDir, 'loras/dangling.safetensors'));
  });
  afterAll(() => rmSync(modelsDir, { recursive: true, force: true }));

  it('lists model files recursively as sorted relative names, skipping hidden entries and other extensions', async () => {
    expect(await listModelFiles(modelsDir, 'checkpoints')).toEqual([
      'Animagine.SAFETENSORS',
      'juggernautXL.safetensors',
      'sdxl/a-model.safetensors',
      'SDXL/b-model.ckpt',
    ]);
    expect(await listModelFiles(modelsDir, 'loras')).toEqual(['detail.pt', 'linked.safetensors']);
    expect(await listModelFiles(modelsDir, 'vae')).toEqual([]); // missing folder
  });

  it('resolves names (with / or \\ separators, following links) to paths inside the kind folder', async () => {
    expect(await resolveModelFile(modelsDir, 'checkpoints', 'sdxl/a-model.safetensors')).toBe(join(modelsDir, 'checkpoints/sdxl/a-model.safetensors'));
    expect(await resolveModelFile(modelsDir, 'checkpoints', 'SDXL\\b-model.ckpt')).toBe(join(modelsDir, 'checkpoints/SDXL/b-model.ckpt'));
    expect(await resolveModelFile(modelsDir, 'loras', 'linked.safetensors')).toBe(join(modelsDir, 'loras/linked.safetensors'));
  });

  it('refuses traversal, absolute paths and non-model files', async () => {
    for (const name of ['../elsewhere/outside.safetensors', 'sdxl/../../loras/detail.pt', '/etc/passwd.safetensors', 'C:\\x.ckpt', '..\\x.ckpt', 'a//b.ckpt', '', 'readme.txt', 'a\u0000.ckpt']) {
      await expect(resolveModelFile(modelsDir, 'checkpoints', name), name).rejects.toBeInstanceOf(InvalidModelNameError);
    }
  });

  it('a missing file is a typed not-found error naming the file and the folder', async () => {
    const err = await resolveModelFile(modelsDir, 'checkpoints', 'nope.safetensors').catch((e) => e);
    expect(err).toBeInstanceOf(ModelFileNotFoundError);
    expect(err).toMatchObject({ code: 'not_found', kind: 'checkpoints', fileName: 'nope.safetensors', folder: join(modelsDir, 'checkpoints') });
    expect(err.message).toContain('nope.safetensors');
    expect(err.message).toContain(join(modelsDir, 'checkpoints'));
    await expect(resolveModelFile(modelsDir, 'loras', 'dangling.safetensors')).rejects.toBeInstanceOf(ModelFileNotFoundError);
    await expect(resolveModelFile(modelsDir, 'checkpoints', 'sdxl')).rejects.toBeInstanceOf(InvalidModelNameError);
  });
});
