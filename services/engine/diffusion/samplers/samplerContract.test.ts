/**
 * The registry and the caller contract of every sampler, away from the golden
 * data: names and aliases, noise requirements, cancellation, progress, and
 * behaviour on a problem with a known answer. For data x0 ~ N(0, 1) the ideal
 * denoiser is D(x, σ) = x/(1 + σ²) and the probability-flow ODE is solved
 * exactly by x(σ) = z·sqrt(1 + σ²): a deterministic sampler started at
 * z·sqrt(1 + σ_max²) must end near z, and a stochastic one must end with
 * unit variance.
 */
import { describe, expect, it } from 'vitest';
import { modelSamplingFor } from '../modelSampling.ts';
import { karrasSigmas } from '../schedulers/karras.ts';
import type { Denoiser, Latent, ModelSampling, NoiseSampler, SamplerStepInfo } from '../types.ts';
import { SAMPLER_NAMES, resolveSampler, type SamplerName } from './index.ts';
import { samplerRuns } from './testSupport/goldenData.ts';

const discrete = modelSamplingFor('discrete_eps');

/** Seeded standard normals (xorshift32 + Box–Muller), so a failure reproduces. */
function normals(seed: number): (n: number) => Float64Array {
  let s = seed >>> 0 || 1;
  const uniform = () => {
    s ^= s << 13;
    s >>>= 0;
    s ^= s >>> 17;
    s ^= s << 5;
    s >>>= 0;
    return (s + 0.5) / 2 ** 32;
  };
  return (n) => {
    const out = new Float64Array(n);
    for (let i = 0; i < n; i++) out[i] = Math.sqrt(-2 * Math.log(uniform())) * Math.cos(2 * Math.PI * uniform());
    return out;
  };
}

/** i.i.d. noise: one fresh tensor per request. */
function iidNoise(n: number, seed: number): NoiseSampler {
  const draw = normals(seed);
  return () => draw(n);
}

/**
 * A Brownian path queried at decreasing sigmas (the golden README §2.10
 * construction): each new lower point q gets W(q) = W(q_prev) + sqrt(q_prev − q)·z;
 * a request returns (W(σ') − W(σ))/sqrt(|σ' − σ|).
 */
function brownianNoise(n: number, seed: number): NoiseSampler {
  const draw = normals(seed);
  const points = new Map<number, Float64Array>();
  let lowest: number | null = null;
  const at = (q: number): Float64Array => {
    const known = points.get(q);
    if (known) return known;
    if (lowest === null) {
      points.set(q, new Float64Array(n));
    } else {
      if (q > lowest) throw new Error(`test Brownian path only extends downwards (asked ${q} above ${lowest})`);
      const prev = points.get(lowest)!;
      const z = draw(n);
      const c = Math.sqrt(lowest - q);
      points.set(q, prev.map((v, i) => v + c * z[i]));
    }
    lowest = q;
    return points.get(q)!;
  };
  return (sigma, sigmaNext) => {
    const w0 = at(sigma);
    const w1 = at(sigmaNext);
    const scale = Math.sqrt(Math.abs(sigmaNext - sigma));
    return w1.map((v, i) => (v - w0[i]) / scale);
  };
}

const gaussianDenoiser: Denoiser = async (x, sigma) => x.map((v) => v / (1 + sigma * sigma));

function modelFor(name: SamplerName): ModelSampling {
  return name === 'tcd' ? modelSamplingFor('distilled_eps') : discrete;
}

function noiseFor(name: SamplerName, n: number, seed: number): NoiseSampler | undefined {
  const kind = resolveSampler(name).noise;
  if (kind === 'none') return undefined;
  return kind === 'brownian' ? brownianNoise(n, seed) : iidNoise(n, seed);
}

describe('sampler registry', () => {
  it('lists exactly the 24 sampler names Fooocus accepts (one golden run each)', () => {
    const goldenNames = new Set(Object.values(samplerRuns()).map((r) => r.sampler));
    expect(SAMPLER_NAMES).toHaveLength(24);
    expect(new Set(SAMPLER_NAMES)).toEqual(goldenNames);
    for (const name of SAMPLER_NAMES) expect(resolveSampler(name).name).toBe(name);
  });

  it('runs ddim as euler, every _gpu name as its CPU sampler, and an unknown name as euler', () => {
    expect(resolveSampler('ddim').run).toBe(resolveSampler('euler').run);
    for (const base of ['dpmpp_sde', 'dpmpp_2m_sde', 'dpmpp_3m_sde'] as const) {
      expect(resolveSampler(`${base}_gpu`).run).toBe(resolveSampler(base).run);
      expect(resolveSampler(`${base}_gpu`).noise).toBe('brownian');
    }
    const unknown = resolveSampler('definitely_not_a_sampler');
    expect(unknown.name).toBe('euler');
    expect(unknown.run).toBe(resolveSampler('euler').run);
    expect(resolveSampler('__proto__').name).toBe('euler');
  });
});

describe('sampler contract', () => {
  const sigmas = karrasSigmas(8, discrete.sigmaMin, discrete.sigmaMax);
  const n = 64;

  for (const name of SAMPLER_NAMES) {
    const { noise: kind, run } = resolveSampler(name);

    if (kind !== 'none') {
      it(`${name} refuses to start without a noise source, naming itself, before any denoiser call`, async () => {
        let calls = 0;
        const denoise: Denoiser = async (x) => {
          calls++;
          return x;
        };
        const base = name.replace(/_gpu$/, '');
        await expect(run(denoise, new Float64Array(n), sigmas, { model: modelFor(name) })).rejects.toThrow(base);
        expect(calls).toBe(0);
      });
    }

    it(`${name} stops before its first denoiser call when the signal is already aborted`, async () => {
      const controller = new AbortController();
      const reason = new Error('cancelled by test');
      controller.abort(reason);
      let calls = 0;
      const denoise: Denoiser = async (x) => {
        calls++;
        return x;
      };
      const opts = { model: modelFor(name), noise: noiseFor(name, n, 1), signal: controller.signal };
      await expect(run(denoise, new Float64Array(n), sigmas, opts)).rejects.toBe(reason);
      expect(calls).toBe(0);
    });

    it(`${name} honours an abort raised from its step callback at the next step`, async () => {
      const controller = new AbortController();
      const steps: number[] = [];
      let callsAtAbort = -1;
      let calls = 0;
      const denoise: Denoiser = async (x, sigma) => {
        calls++;
        return gaussianDenoiser(x, sigma);
      };
      const x0 = normals(5)(n).map((v) => v * Math.sqrt(1 + sigmas[0] ** 2));
      const opts = {
        model: modelFor(name),
        noise: noiseFor(name, n, 2),
        signal: controller.signal,
        onStep: (info: SamplerStepInfo) => {
          steps.push(info.i);
          if (info.i === 1) {
            controller.abort();
            callsAtAbort = calls;
          }
        },
      };
      await expect(run(denoise, x0, sigmas, opts)).rejects.toThrow();
      expect(steps).toEqual([0, 1]);
      // The rest of step 1 may still evaluate (a Heun corrector, a DPM-Solver stage), never a new step.
      expect(calls - callsAtAbort).toBeLessThanOrEqual(2);
    });
  }
});

describe('samplers on Gaussian data with the ideal denoiser', () => {
  /** Runs a sampler from z·sqrt(1 + σ_0²) on a karras schedule of the given length. */
  async function sample(name: SamplerName, steps: number, z: Latent, seed = 7): Promise<{ x: Latent; infos: SamplerStepInfo[] }> {
    const sigmas = karrasSigmas(steps, discrete.sigmaMin, discrete.sigmaMax);
    const infos: SamplerStepInfo[] = [];
    const x = await resolveSampler(name).run(gaussianDenoiser, z.map((v) => v * Math.sqrt(1 + sigmas[0] ** 2)), sigmas, {
      model: modelFor(name),
      noise: noiseFor(name, z.length, seed),
      onStep: (info) => {
        infos.push(info);
      },
    });
    return { x, infos };
  }

  // A deterministic sampler is linear here (x_final = c·z), so its error against the
  // exact ODE end point z is |c − 1|, the same for every element. Bounds are 1.5× the
  // measured error at 20 karras steps; `order` is the solver's convergence order, checked
  // as error(10 steps)/error(20 steps) ≥ 2^order·0.9 (a wrong coefficient breaks it).
  // dpm_fast, dpm_adaptive and UniPC stop at a nonzero sigma or ignore the interior of the
  // schedule, so only their bound is checked.
  const deterministic: { name: SamplerName; bound: number; order?: number }[] = [
    { name: 'euler', bound: 0.12, order: 1 },
    { name: 'ddim', bound: 0.12, order: 1 },
    { name: 'heun', bound: 0.017, order: 2 },
    { name: 'heunpp2', bound: 0.1, order: 1 },
    { name: 'dpm_2', bound: 0.01, order: 2 },
    { name: 'lms', bound: 0.0085, order: 3 },
    { name: 'dpm_fast', bound: 0.0032 },
    { name: 'dpm_adaptive', bound: 0.043 },
    { name: 'dpmpp_2m', bound: 0.018, order: 2 },
    { name: 'uni_pc', bound: 0.0024 },
    { name: 'uni_pc_bh2', bound: 0.0026 },
  ];
  const z = new Float64Array([1, -0.5, 2]);
  const endError = (x: Latent) => Math.max(...Array.from(x, (v, i) => Math.abs(v / z[i] - 1)));

  for (const { name, bound, order } of deterministic) {
    it(`${name} solves the probability-flow ODE to within ${bound} at 20 steps${order ? `, converging with order ${order}` : ''}`, async () => {
      const coarse = await sample(name, 10, z);
      const fine = await sample(name, 20, z);
      expect(endError(fine.x)).toBeLessThan(bound);
      if (order) expect(endError(coarse.x) / endError(fine.x)).toBeGreaterThan(0.9 * 2 ** order);
      fine.infos.forEach((info, k) => expect(info.i).toBe(k));
      expect(fine.infos.at(-1)!.i + 1).toBe(fine.infos.at(-1)!.total);
    });
  }

  const n = 20_000;
  const variance = (x: Latent) => x.reduce((a, v) => a + v * v, 0) / x.length;
  // At 100 steps every ancestral/SDE sampler reproduces the data variance to a few %
  // (euler_ancestral 0.94, ddpm 0.94, tcd 0.93, the rest within 0.01 of 1); missing or
  // doubled noise moves it far outside [0.9, 1.1].
  const stochastic: SamplerName[] = ['euler_ancestral', 'dpm_2_ancestral', 'dpmpp_2s_ancestral', 'dpmpp_sde', 'dpmpp_2m_sde', 'dpmpp_3m_sde', 'ddpm', 'tcd'];
  for (const name of stochastic) {
    it(`${name} ends with the data's unit variance after 100 steps`, async () => {
      const start = normals(42)(n);
      const { x, infos } = await sample(name, 100, start);
      expect(variance(x)).toBeGreaterThan(0.9);
      expect(variance(x)).toBeLessThan(1.1);
      expect(infos).toHaveLength(100);
    });
  }

  it('restart from 24 steps re-noises once (15 karras intervals + 9 restart intervals) and keeps unit variance', async () => {
    const steps = 24;
    const sigmas = karrasSigmas(steps, discrete.sigmaMin, discrete.sigmaMax);
    const start = normals(42)(n);
    const infos: SamplerStepInfo[] = [];
    let draws = 0;
    const draw = normals(9);
    const x = await resolveSampler('restart').run(gaussianDenoiser, start.map((v) => v * Math.sqrt(1 + sigmas[0] ** 2)), sigmas, {
      model: discrete,
      noise: () => {
        draws++;
        return draw(n);
      },
      onStep: (info) => {
        infos.push(info);
      },
    });
    expect(draws).toBe(1);
    expect(infos).toHaveLength(24);
    expect(infos[0].total).toBe(24);
    expect(variance(x)).toBeGreaterThan(0.9);
    expect(variance(x)).toBeLessThan(1.1);
  });

  it('lcm runs to a finite result with one callback per step', async () => {
    const { x, infos } = await sample('lcm', 8, normals(3)(64));
    expect(x.every(Number.isFinite)).toBe(true);
    expect(infos.map((s) => s.i)).toEqual([...Array(8).keys()]);
  });

  it('tcd stays finite on a karras schedule ending at the table minimum, where Fooocus takes sqrt of a negative', async () => {
    const { x } = await sample('tcd', 8, normals(3)(64));
    expect(x.every(Number.isFinite)).toBe(true);
  });
});
