import { readFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { compareArrays } from '../golden/compare.ts';
import { openSafetensors } from '../io/safetensors.ts';
import {
  denoisedFromEps,
  discreteEpsSampling,
  distilledSampling,
  edmSampling,
  interpolatedTimestep,
  modelSamplingFor,
  scaleUnetInput,
  unetInputDivisor,
  unetInputScale,
} from './modelSampling.ts';
import { goldenDir } from './samplers/testSupport/goldenData.ts';

const golden = (name: string) => openSafetensors(path.join(goldenDir, 'cases', name));
const schedules = golden('schedules.safetensors');
const schedulerSigmas = golden('scheduler_sigmas.safetensors');
const interpRun = golden('txt2img_euler_karras_interp_t.safetensors');
afterAll(() => [schedules, schedulerSigmas, interpRun].forEach((f) => f.close()));

const cases = JSON.parse(readFileSync(path.join(goldenDir, 'cases.json'), 'utf8')) as {
  cases: { txt2img: Record<string, { sigmas: number[]; timesteps: number[] }> };
};

describe('discrete eps model sampling (SDXL scaled-linear table)', () => {
  const ms = discreteEpsSampling();

  it('builds the 1000 float32 sigmas and alphas_cumprod bit for bit', () => {
    expect(Array.from(ms.sigmas)).toEqual(Array.from(schedules.float32('model_sigmas')));
    expect(Array.from(ms.alphasCumprod)).toEqual(Array.from(schedulerSigmas.float32('model_alphas_cumprod')));
    expect(ms.sigmaMin).toBe(0.029167158529162407);
    expect(ms.sigmaMax).toBe(14.614641189575195);
    expect(ms.sigmaData).toBe(1);
  });

  it('maps every table sigma to its own index and back', () => {
    for (let i = 0; i < 1000; i++) {
      expect(ms.timestep(ms.sigmas[i])).toBe(i);
      // σ(t) is exp(float32 log σ_t) in float32: the table value or its round trip (≤ 2 ulp).
      expect(Math.abs(ms.sigma(i) - ms.sigmas[i]) / ms.sigmas[i]).toBeLessThan(2.4e-7);
    }
  });

  it('interpolates σ(t) log-linearly between neighbours and clamps to the table', () => {
    const mid = ms.sigma(499.5);
    expect(Math.log(mid)).toBeCloseTo((Math.log(ms.sigmas[499]) + Math.log(ms.sigmas[500])) / 2, 6);
    expect(ms.sigma(-3)).toBe(ms.sigma(0));
    expect(ms.sigma(1200)).toBe(ms.sigma(999));
  });

  it('quantises out-of-range sigmas to the table ends', () => {
    expect(ms.timestep(100)).toBe(999);
    expect(ms.timestep(1e-4)).toBe(0);
  });

  it('reproduces the interpolated timesteps of the interp_t run within atol 1e-3', () => {
    const run = cases.cases.txt2img.euler_karras_interp_t;
    run.timesteps.forEach((want, i) => {
      const stored = interpRun.float32(`step${i}.t`)[0];
      expect(Math.abs(interpolatedTimestep(ms, run.sigmas[i]) - want)).toBeLessThan(1e-3);
      expect(Math.abs(interpolatedTimestep(ms, run.sigmas[i]) - stored)).toBeLessThan(1e-3);
    });
  });

  it('combines the UNet output as x − σ·eps and divides the input by sqrt(σ² + 1)', () => {
    const x = Float64Array.of(1, -2);
    expect(Array.from(denoisedFromEps('discrete_eps', x, Float32Array.of(0.5, 0.25), 2, 999))).toEqual([0, -2.5]);
    expect(unetInputDivisor('discrete_eps', 2)).toBe(Math.sqrt(5));
    expect(unetInputScale('discrete_eps', 2)).toBe(1 / Math.sqrt(5));
    expect(Array.from(scaleUnetInput('discrete_eps', x, 2))).toEqual([1 / Math.sqrt(5), -2 / Math.sqrt(5)]);
  });
});

describe('distilled model sampling (lcm / tcd schedulers)', () => {
  const ms = distilledSampling('distilled_lcm');

  it('keeps entries σ(19 + 20j) of the full table', () => {
    expect(Array.from(ms.sigmas)).toEqual(Array.from(schedulerSigmas.float32('model_sigmas.distilled50')));
    expect(ms.alphasCumprod).toHaveLength(1000);
  });

  it('maps sigma to 20·argmin + 19 and timestep back through (t − 19)/20', () => {
    for (let j = 0; j < 50; j++) expect(ms.timestep(ms.sigmas[j])).toBe(20 * j + 19);
    expect(ms.sigma(999)).toBe(ms.sigma(19 + 20 * 49));
    expect(ms.sigma(5)).toBe(ms.sigma(19));
    expect(Math.abs(ms.sigma(519) - ms.sigmas[25]) / ms.sigmas[25]).toBeLessThan(1.2e-7);
    expect(interpolatedTimestep(ms, ms.sigmas[25])).toBeCloseTo(519, 3);
  });

  it('applies the LCM boundary condition with ts = 10·t (c_skip, c_out at σ_data 0.5)', () => {
    const x = Float64Array.of(2);
    const eps = Float32Array.of(0.5);
    const sigma = 0.03;
    const t = 19;
    const ts = 190;
    const cSkip = 0.25 / (ts * ts + 0.25);
    const cOut = ts / Math.sqrt(ts * ts + 0.25);
    const [got] = denoisedFromEps('distilled_lcm', x, eps, sigma, t);
    expect(got).toBeCloseTo(cOut * (2 - sigma * 0.5) + cSkip * 2, 14);
    // The boundary term is real: it differs from plain eps by c_skip·(σ·eps) and the c_out shortfall.
    expect(Math.abs(got - denoisedFromEps('distilled_eps', x, eps, sigma, t)[0])).toBeGreaterThan(1e-7);
    // At t = 0 the LCM denoiser returns its input unchanged.
    expect(denoisedFromEps('distilled_lcm', x, eps, sigma, 0)[0]).toBe(2);
  });
});

describe('EDM model sampling (Playground v2.5)', () => {
  const ms = edmSampling();

  it('builds exp(linspace(ln 0.002, ln 120, 1000)) in float32 within an ulp of torch', () => {
    const cmp = compareArrays(ms.sigmas, schedulerSigmas.float32('model_sigmas.edm'), { rtol: 1e-5, atol: 1e-6 });
    expect(cmp.ok).toBe(true);
    expect(cmp.maxRel).toBeLessThan(2e-7);
    expect(ms.sigmaMin).toBeCloseTo(0.002, 9);
    expect(ms.sigmaMax).toBeCloseTo(120, 4);
    expect(ms.sigmaData).toBe(0.5);
  });

  it('uses the fractional timestep 0.25·ln σ and its inverse', () => {
    expect(ms.timestep(Math.E)).toBeCloseTo(0.25, 15);
    expect(ms.sigma(ms.timestep(3.5))).toBeCloseTo(3.5, 12);
    expect(interpolatedTimestep(ms, 3.5)).toBe(ms.timestep(3.5));
  });

  it('divides the input by sqrt(σ² + 0.25) and combines x·σd²/(σ²+σd²) + out·σ·σd/sqrt(σ²+σd²)', () => {
    const sigma = 2;
    expect(unetInputDivisor('edm', sigma)).toBe(Math.sqrt(4.25));
    const [got] = denoisedFromEps('edm', Float64Array.of(3), Float32Array.of(-1), sigma, ms.timestep(sigma));
    expect(got).toBeCloseTo((3 * 0.25) / 4.25 + (-1 * sigma * 0.5) / Math.sqrt(4.25), 14);
  });
});

describe('modelSamplingFor', () => {
  it('returns the sampling of each kind', () => {
    for (const kind of ['discrete_eps', 'distilled_eps', 'distilled_lcm', 'edm'] as const) {
      expect(modelSamplingFor(kind).kind).toBe(kind);
    }
  });
});
