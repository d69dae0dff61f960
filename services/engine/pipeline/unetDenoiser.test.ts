/**
 * The denoiser's image-prompt option against golden-features §9: one
 * batch-2 model call per step whose cond row sees the image tokens and
 * uncond row the negative ones while the prompt is active, and the plain
 * UNet once `1 − t/999 ≥ stop`.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { discreteEpsSampling, unetInputDivisor } from '../diffusion/modelSampling.ts';
import { closeness, TINY_CHECKPOINT } from '../graphs/testing/golden.ts';
import { openSafetensors, type SafetensorsFile } from '../io/safetensors.ts';
import { LoadedIpAdapter } from '../ipadapter/loadedIpAdapter.ts';
import { LoadedCheckpoint } from '../runtime/loadedCheckpoint.ts';
import { createUnetDenoiser, type EvalRecord } from './unetDenoiser.ts';

const FEATURES = '/work/shared/golden-features';
const json = JSON.parse(readFileSync(join(FEATURES, 'cases.json'), 'utf8'));
const section = json.cases.ipadapter;
const EPS_TOL = json.tolerances.fp32.ipadapter_eps as { rtol: number; atol: number };
const session = { providers: ['cpu' as const], intraOpThreads: 2 };
const cacheDir = mkdtempSync(join(tmpdir(), 'fooocus-denoiser-ip-test-'));
let cases: SafetensorsFile;
let ip: LoadedIpAdapter;
let model: LoadedCheckpoint;

beforeAll(async () => {
  cases = openSafetensors(join(FEATURES, section.file));
  ip = await LoadedIpAdapter.load(
    { clipVision: join(FEATURES, section.clip_vision), ipAdapter: join(FEATURES, section.ip_adapter), negative: join(FEATURES, section.ip_negative) },
    { cacheDir, session },
  );
  model = await LoadedCheckpoint.load(TINY_CHECKPOINT, { cacheDir, compute: 'float32', session });
});
afterAll(async () => {
  await ip?.close();
  await model?.close();
  cases?.close();
  rmSync(cacheDir, { recursive: true, force: true });
});

describe('createUnetDenoiser with imagePrompts', () => {
  for (const k of section.cases as { name: string; weight: number; stop: number; t: number; active: boolean }[]) {
    it(`${k.name}: the eps of both rows match the golden set`, async () => {
      const [H, W] = section.image_hw as [number, number];
      const prompt = await ip.imagePrompt({ data: new Uint8Array(cases.bytes('image_u8')), width: W, height: H, channels: 3 }, k.weight, k.stop);
      const ms = discreteEpsSampling();
      const sigma = ms.sigma(k.t);
      const y = cases.float32('unet.y');
      const ctx = (name: string) => ({ context: cases.float32(name), tokens: 77, width: cases.info(name).shape[2] });
      const records: EvalRecord[] = [];
      const denoise = createUnetDenoiser({
        model, modelSampling: ms, latentShape: [1, 4, 16, 16],
        positive: { text: ctx('unet.context_cond'), adm: { emphasized: y, consistent: y } },
        negative: { text: ctx('unet.context_uncond'), adm: { emphasized: y, consistent: y } },
        cfg: 7, guidance: { kind: 'plain' }, admSwitchTimestep: 699.3, timestepOf: () => k.t,
        imagePrompts: [prompt], onEval: (r) => records.push(r),
      });
      // The sampler state whose UNet input (x·c_in) is the stored unet.x.
      const d = unetInputDivisor(ms.kind, sigma);
      await denoise(Float64Array.from(cases.float32('unet.x'), (v) => v * d), sigma);
      expect(records).toHaveLength(1);
      expect(closeness(records[0].epsCond, cases.float32(`${k.name}.eps_cond`), EPS_TOL).failures).toBe(0);
      expect(closeness(records[0].epsUncond!, cases.float32(`${k.name}.eps_uncond`), EPS_TOL).failures).toBe(0);
    });
  }
});
