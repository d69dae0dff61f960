import { readFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { compareArrays } from '../golden/compare.ts';
import { openSafetensors, type SafetensorsFile } from '../io/safetensors.ts';
import { initialLatent, initialNoiseScale, isMaxDenoise } from './initialLatent.ts';
import { emptyLatentIn, latentForVae, latentFromVae } from './latentFormat.ts';
import { discreteEpsSampling, edmSampling } from './modelSampling.ts';
import { fooocusSamplingSigmas } from './samplingSigmas.ts';
import { goldenDir } from './samplers/testSupport/goldenData.ts';
import { torchRandn } from './torchRandn.ts';

interface RunRecord {
  file: string;
  scheduler: string;
  sampler: string;
  steps: number;
  x_init_rule: string;
  latent_shape: number[];
  noise_seed: string;
}
const runs = (
  JSON.parse(readFileSync(path.join(goldenDir, 'cases.json'), 'utf8')) as {
    cases: { sampler_runs: { common_file: string; runs: Record<string, RunRecord> } };
  }
).cases.sampler_runs;

const opened: SafetensorsFile[] = [];
const open = (rel: string): SafetensorsFile => {
  const f = openSafetensors(path.join(goldenDir, rel));
  opened.push(f);
  return f;
};
afterAll(() => opened.forEach((f) => f.close()));

const LATENT_TOL = { atolTimesMaxAbs: 1e-4 };
const common = open(runs.common_file);
const noise = common.float32('noise');

describe('initial latent (README §2.10 x_init rule)', () => {
  it('starts from the torch noise of the image seed', () => {
    const run = runs.runs.euler;
    const cmp = compareArrays(torchRandn(run.latent_shape, BigInt(run.noise_seed)), noise, { rtol: 1e-6, atol: 1e-6 });
    expect(cmp.ok).toBe(true);
  });

  it.each(['euler', 'euler__ddim_uniform', 'euler__exponential', 'euler__lcm', 'euler__edm_playground_v2.5', 'dpm_2'])(
    'x_init of run %s',
    (name) => {
      const run = runs.runs[name];
      const tensors = open(run.file);
      const { sigmas, modelSampling } = fooocusSamplingSigmas({ scheduler: run.scheduler, steps: run.steps, sampler: run.sampler });
      const latent = modelSampling.kind === 'edm' ? emptyLatentIn(modelSampling.kind, run.latent_shape) : undefined;
      const got = initialLatent({ noise, sigmas, modelSampling, latent });
      const cmp = compareArrays(got, tensors.float32('x_init'), LATENT_TOL);
      expect(cmp.ok, `${name}: rel ${cmp.maxRel}`).toBe(true);
      expect(cmp.maxRel).toBeLessThan(1e-6);
      expect(isMaxDenoise(modelSampling, sigmas[0])).toBe(run.x_init_rule.startsWith('noise*sqrt(1+sigmas[0]^2)'));
    },
  );

  it('scales by σ0 below σmax and by sqrt(1 + σ0²) at σmax within rel 1e-5, EDM included', () => {
    const ms = discreteEpsSampling();
    expect(initialNoiseScale(ms, 4)).toBe(4);
    expect(initialNoiseScale(ms, ms.sigmaMax * (1 - 0.9e-5))).toBeCloseTo(Math.sqrt(1 + (ms.sigmaMax * (1 - 0.9e-5)) ** 2), 12);
    expect(initialNoiseScale(ms, ms.sigmaMax * (1 - 2e-5))).toBe(ms.sigmaMax * (1 - 2e-5));
    expect(initialNoiseScale(ms, 20)).toBe(Math.sqrt(401));
    const edm = edmSampling();
    expect(initialNoiseScale(edm, edm.sigmaMax)).toBe(Math.sqrt(1 + edm.sigmaMax ** 2));
  });
});

describe('latent formats', () => {
  const edmRun = runs.runs['euler__edm_playground_v2.5'];
  const edmTensors = open(edmRun.file);
  const shape = edmRun.latent_shape;

  it('gives Playground v2.5 the empty latent (0 − mean)·0.5/std per channel', () => {
    const cmp = compareArrays(emptyLatentIn('edm', shape), edmTensors.float32('latent_in'), { rtol: 1e-6, atol: 1e-7 });
    expect(cmp.ok).toBe(true);
    expect(Array.from(new Set(emptyLatentIn('discrete_eps', shape)))).toEqual([0]);
  });

  it('hands the VAE x·std/0.5 + mean for Playground and x/0.13025 for SDXL', () => {
    const x = Float64Array.from(edmTensors.float32('x_final'));
    expect(compareArrays(latentForVae(x, 'edm', shape), edmTensors.float32('latent_for_vae'), LATENT_TOL).ok).toBe(true);
    const sdxl = open(runs.runs.euler.file);
    const xs = Float64Array.from(sdxl.float32('x_final'));
    const cmp = compareArrays(latentForVae(xs, 'discrete_eps', shape), sdxl.float32('latent_for_vae'), LATENT_TOL);
    expect(cmp.ok).toBe(true);
    expect(cmp.maxRel).toBeLessThan(1e-6);
  });

  it('inverts latentForVae with latentFromVae', () => {
    const x = Float64Array.from(noise);
    for (const kind of ['discrete_eps', 'edm'] as const) {
      const back = latentFromVae(latentForVae(x, kind, shape), kind, shape);
      expect(compareArrays(back, x, { atol: 1e-12 }).ok).toBe(true);
    }
  });

  it('rejects a Playground latent that is not 4-channel NCHW', () => {
    expect(() => latentForVae(new Float64Array(12), 'edm', [1, 3, 2, 2])).toThrow(/4 channels/);
    expect(() => latentForVae(new Float64Array(12), 'edm', [1, 4, 2, 2])).toThrow(/does not have shape/);
  });
});
