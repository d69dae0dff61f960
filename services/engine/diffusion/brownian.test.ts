import { readFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { compareArrays } from '../golden/compare.ts';
import { openSafetensors, type SafetensorsFile } from '../io/safetensors.ts';
import { createBrownianNoise } from './brownian.ts';
import { goldenDir } from './samplers/testSupport/goldenData.ts';
import { createSeededNoise } from './seededNoise.ts';

interface NoiseCall {
  k: number;
  source: string;
  sigma: number;
  sigma_next: number;
  increments?: number[];
}
interface RunRecord {
  file: string;
  latent_shape: number[];
  noise_seed: string;
  noise_calls: NoiseCall[];
  brownian?: { points: number[]; increments: { m: number; seed: string }[] };
}
const runs = (
  JSON.parse(readFileSync(path.join(goldenDir, 'cases.json'), 'utf8')) as {
    cases: { sampler_runs: { runs: Record<string, RunRecord> } };
  }
).cases.sampler_runs.runs;

const opened: SafetensorsFile[] = [];
afterAll(() => opened.forEach((f) => f.close()));
const open = (rel: string): SafetensorsFile => {
  const f = openSafetensors(path.join(goldenDir, rel));
  opened.push(f);
  return f;
};

/** A draw function replaying the run's recorded brownian_z tensors in order. */
function recordedDraws(tensors: SafetensorsFile): () => Float64Array {
  let m = 0;
  return () => Float64Array.from(tensors.float32(`brownian_z${m++}`));
}

const brownianRuns = Object.entries(runs).filter(([, r]) => r.brownian);

describe('Brownian noise replays the golden Brownian-tree samplers (README §2.10)', () => {
  it('covers dpmpp_sde, dpmpp_2m_sde and dpmpp_3m_sde with their _gpu names', () => {
    expect(brownianRuns.map(([name]) => name).sort()).toEqual(
      ['dpmpp_2m_sde', 'dpmpp_2m_sde_gpu', 'dpmpp_3m_sde', 'dpmpp_3m_sde_gpu', 'dpmpp_sde', 'dpmpp_sde_gpu'].sort(),
    );
  });

  it.each(brownianRuns)('%s: every noise call equals the recorded noise{k}', (_name, run) => {
    const tensors = open(run.file);
    const noise = createBrownianNoise({ draw: recordedDraws(tensors) });
    for (const call of run.noise_calls) {
      const got = noise(call.sigma, call.sigma_next);
      // The stored value is the float64 quotient rounded to float32.
      const cmp = compareArrays(got, tensors.float32(`noise${call.k}`), { rtol: 1e-6, atol: 1e-6 });
      expect(cmp.ok, `noise${call.k}: max |Δ| ${cmp.maxAbs}`).toBe(true);
    }
  });

  it('for consecutive intervals (2M SDE) answer k is draw k exactly', () => {
    const run = runs.dpmpp_2m_sde;
    const tensors = open(run.file);
    const noise = createBrownianNoise({ draw: recordedDraws(tensors) });
    run.noise_calls.forEach((call, k) => {
      const got = noise(call.sigma, call.sigma_next);
      const z = tensors.float32(`brownian_z${k}`);
      expect(compareArrays(got, z, { atol: 1e-12 }).ok).toBe(true);
    });
  });

  it('draws z_m from torch.randn with seed noise_seed + 1 + m', () => {
    const run = runs.dpmpp_sde;
    const tensors = open(run.file);
    const draw = createSeededNoise(BigInt(run.noise_seed), run.latent_shape);
    run.brownian!.increments.forEach(({ m, seed }) => {
      expect(BigInt(seed)).toBe(BigInt(run.noise_seed) + 1n + BigInt(m));
      expect(compareArrays(draw(), tensors.float32(`brownian_z${m}`), { rtol: 1e-6, atol: 1e-6 }).ok).toBe(true);
    });
  });
});

describe('Brownian path semantics', () => {
  const size = 20000;
  const draws = () => createSeededNoise(7n, [size]);

  function stats(a: Float64Array, b: Float64Array): { varA: number; varB: number; corr: number } {
    let sa = 0;
    let sb = 0;
    let sab = 0;
    for (let i = 0; i < a.length; i++) {
      sa += a[i] * a[i];
      sb += b[i] * b[i];
      sab += a[i] * b[i];
    }
    return { varA: sa / a.length, varB: sb / b.length, corr: sab / Math.sqrt(sa * sb) };
  }

  it('bridges a query between known points with the right law (dpmpp_sde after a skipped midpoint)', () => {
    const noise = createBrownianNoise({ draw: draws() });
    const wide = noise(1, 0.5); // W(0.5)/sqrt(0.5)
    const inner = noise(1, 0.75); // bridged: W(0.75)/sqrt(0.25)
    const { varA, varB, corr } = stats(wide, inner);
    expect(varA).toBeCloseTo(1, 1);
    expect(varB).toBeCloseTo(1, 1);
    // Cov(W(0.5), W(0.75)) = 0.25 on a path from W(1) = 0: corr = 0.25 / sqrt(0.5·0.25) = 1/sqrt(2).
    expect(Math.abs(corr - Math.SQRT1_2)).toBeLessThan(0.03);
  });

  it('answers the same interval the same way and reverses sign with the interval', () => {
    const noise = createBrownianNoise({ draw: draws() });
    const a = noise(2, 1);
    expect(Array.from(noise(2, 1))).toEqual(Array.from(a));
    expect(Array.from(noise(1, 2))).toEqual(Array.from(a, (v) => -v));
  });

  it('gives disjoint intervals independent answers and adds up overlapping ones', () => {
    const noise = createBrownianNoise({ draw: draws() });
    const first = noise(3, 2);
    const second = noise(2, 1);
    expect(Math.abs(stats(first, second).corr)).toBeLessThan(0.03);
    const whole = noise(3, 1);
    const expected = first.map((v, i) => (v * 1 + second[i] * 1) / Math.sqrt(2));
    expect(compareArrays(whole, expected, { atol: 1e-12 }).ok).toBe(true);
  });

  it('treats a σ recomputed as exp(−(−ln σ)) as the known point, spending no draw', () => {
    let calls = 0;
    const seeded = draws();
    const noise = createBrownianNoise({
      draw: () => {
        calls++;
        return seeded();
      },
    });
    const sigma = 0.4469185769557953;
    noise(14.614643096923828, sigma);
    const roundTrip = Math.exp(-(-Math.log(sigma)));
    noise(roundTrip, 0.11417246609926224);
    expect(calls).toBe(2);
  });

  it('returns a zero increment for an empty interval', () => {
    const noise = createBrownianNoise({ draw: draws() });
    noise(2, 1);
    expect(Array.from(new Set(noise(1, 1)))).toEqual([0]);
  });
});
