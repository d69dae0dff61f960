/**
 * The inpaint UNet variant (graphs/unetGraph.ts `inpaintFeature`, reached
 * through `LoadedCheckpoint.unet(…, { inpaintFeature })`) on the tiny SDXL
 * base against golden `unet.eps.{plain, head_only}`: the feature added after
 * conv_in changes eps as Fooocus' input_block_patch does, a zero feature
 * changes nothing, and a batch-1 feature serves a cond/uncond batch of 2.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { LoadedCheckpoint, type FloatTensor } from '../runtime/loadedCheckpoint.ts';
import { FEATURES, inpaintSection, openCase } from './testSupport/inpaintGolden.ts';

const cases = openCase(inpaintSection.model_file);
const cacheDir = mkdtempSync(join(tmpdir(), 'inpaint-unet-'));
const load = LoadedCheckpoint.load(join(FEATURES, '../golden/tiny-sdxl.safetensors'), {
  cacheDir,
  compute: 'float32',
  session: { providers: ['cpu'], intraOpThreads: 2 },
});
afterAll(async () => {
  await (await load).close();
  cases.close();
  rmSync(cacheDir, { recursive: true, force: true });
});

const tensor = (name: string): FloatTensor => ({ data: cases.float32(name), dims: cases.info(name).shape });
const expectClose = (got: ArrayLike<number>, want: ArrayLike<number>) => {
  expect(got.length).toBe(want.length);
  for (let i = 0; i < want.length; i++) expect(Math.abs(got[i] - want[i])).toBeLessThanOrEqual(1e-4 + 1e-4 * Math.abs(want[i]));
};
const call = async (feature?: FloatTensor, batch = 1) => {
  const model = await load;
  const rep = (t: FloatTensor): FloatTensor => {
    const data = new Float32Array(t.data.length * batch);
    for (let b = 0; b < batch; b++) data.set(t.data, b * t.data.length);
    return { data, dims: [batch, ...t.dims.slice(1)] };
  };
  const t = cases.float32('unet.t');
  return model.unet(rep(tensor('unet.x')), Float32Array.from({ length: batch }, () => t[0]), rep(tensor('unet.context')), rep(tensor('unet.y')), feature ? { inpaintFeature: feature } : {});
};

describe('UNet inpaint variant', () => {
  it('the head feature after conv_in gives the golden head_only eps; plain stays plain', async () => {
    expectClose(await call(tensor('head.feature')), cases.float32('unet.eps.head_only'));
    expectClose(await call(), cases.float32('unet.eps.plain'));
    expect((await load).openGraphs).toEqual(expect.arrayContaining(['unet', 'unet_inpaint']));
  });

  it('a zero feature is the plain UNet', async () => {
    const zero = { data: new Float32Array(tensor('head.feature').data.length), dims: tensor('head.feature').dims };
    expectClose(await call(zero), cases.float32('unet.eps.plain'));
  });

  it('a batch-1 feature broadcasts over a batch of 2', async () => {
    const eps = await call(tensor('head.feature'), 2);
    const want = cases.float32('unet.eps.head_only');
    expectClose(eps.subarray(0, want.length), want);
    expectClose(eps.subarray(want.length), want);
  });
});
