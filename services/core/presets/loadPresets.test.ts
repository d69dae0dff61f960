import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import { ValidationError } from '../errors.ts';
import { defaultStyleCatalog } from '../styles/styleCatalog.ts';
import { getPreset, InvalidPresetFileError, loadPresets } from './loadPresets.ts';

const REPO_PRESETS = fileURLToPath(new URL('../../../presets', import.meta.url));

let tmp: string | undefined;
afterEach(async () => {
  if (tmp) await rm(tmp, { recursive: true, force: true });
  tmp = undefined;
});

async function dirWith(files: Record<string, string>): Promise<string> {
  tmp = await mkdtemp(path.join(tmpdir(), 'presets-'));
  for (const [name, content] of Object.entries(files)) await writeFile(path.join(tmp, name), content);
  return tmp;
}

describe('loadPresets', () => {
  it('loads the 8 stock presets of the repository with the contract values', async () => {
    const presets = await loadPresets(REPO_PRESETS, { styleNames: defaultStyleCatalog() });
    expect([...presets.keys()]).toEqual(['anime', 'default', 'lcm', 'lightning', 'playground_v2.5', 'pony_v6', 'realistic', 'sai']);
    expect(presets.get('default')).toMatchObject({
      default_model: 'juggernautXL_v8Rundiffusion.safetensors',
      default_cfg_scale: 4,
      default_performance: 'Speed',
      default_aspect_ratio: '1152*896',
      default_styles: ['Fooocus V2', 'Fooocus Enhance', 'Fooocus Sharp'],
    });
    expect(presets.get('anime')).toMatchObject({
      default_model: 'animaPencilXL_v500.safetensors',
      default_cfg_scale: 6,
      default_aspect_ratio: '896*1152',
      default_styles: ['Fooocus V2', 'Fooocus Semi Realistic', 'Fooocus Masterpiece'],
    });
    expect(presets.get('lcm')?.default_performance).toBe('Extreme Speed');
    expect(presets.get('lightning')?.default_performance).toBe('Lightning');
    expect(presets.get('playground_v2.5')).toMatchObject({
      default_cfg_scale: 2,
      default_sampler: 'dpmpp_2m',
      default_scheduler: 'edm_playground_v2.5',
      default_aspect_ratio: '1024*1024',
      default_inpaint_engine_version: 'None',
    });
    expect(presets.get('pony_v6')).toMatchObject({ default_model: 'ponyDiffusionV6XL.safetensors', default_styles: ['Fooocus Pony'] });
    expect(presets.get('pony_v6')?.default_vae).toBeTruthy();
    expect(presets.get('realistic')).toMatchObject({ default_model: 'realisticStockPhoto_v20.safetensors', default_cfg_scale: 3, default_aspect_ratio: '896*1152' });
    expect(presets.get('sai')).toMatchObject({
      default_model: 'sd_xl_base_1.0_0.9vae.safetensors',
      default_refiner: 'sd_xl_refiner_1.0_0.9vae.safetensors',
      default_refiner_switch: 0.75,
      default_cfg_scale: 7,
    });
  });

  it('fails naming the file and field for an invalid preset', async () => {
    const dir = await dirWith({ 'bad.json': JSON.stringify({ default_performance: 'Warp' }) });
    const err = await loadPresets(dir).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(InvalidPresetFileError);
    expect((err as Error).message).toContain('bad.json');
    expect((err as Error).message).toContain('default_performance');
  });

  it('fails on broken JSON and on unknown styles when a catalog is given', async () => {
    expect(await loadPresets(await dirWith({ 'x.json': '{' })).catch((e: unknown) => e)).toBeInstanceOf(InvalidPresetFileError);
    await rm(tmp!, { recursive: true });
    const dir = await dirWith({ 'y.json': JSON.stringify({ default_styles: ['Nope'] }) });
    await expect(loadPresets(dir, { styleNames: defaultStyleCatalog() })).rejects.toThrow(/Nope/);
  });

  it('accepts old [name, weight] LoRA entries and ignores non-JSON files', async () => {
    const dir = await dirWith({ 'old.json': JSON.stringify({ default_loras: [['a.safetensors', 0.5]] }), 'README.md': '# hi' });
    const presets = await loadPresets(dir);
    expect([...presets.keys()]).toEqual(['old']);
    expect(presets.get('old')?.default_loras).toEqual([[true, 'a.safetensors', 0.5]]);
  });
});

describe('getPreset', () => {
  it('returns a known preset and rejects an unknown one listing the names', async () => {
    const presets = await loadPresets(REPO_PRESETS);
    expect(getPreset(presets, 'sai').default_cfg_scale).toBe(7);
    const err = (() => {
      try {
        getPreset(presets, 'turbo');
      } catch (e) {
        return e;
      }
    })();
    expect(err).toBeInstanceOf(ValidationError);
    const issue = (err as ValidationError).detail[0];
    expect(issue).toMatchObject({ loc: ['body', 'preset'], type: 'preset_unknown', input: 'turbo' });
    expect(issue.msg).toContain("'turbo'");
    expect(issue.msg).toContain('anime, default, lcm, lightning, playground_v2.5, pony_v6, realistic, sai');
  });
});
