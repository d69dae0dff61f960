import { describe, expect, it } from 'vitest';
import { compareArrays } from '../../golden/compare.ts';
import { GoldenTensors, samplerRuns } from '../samplers/testSupport/goldenData.ts';
import { cfgDenoised, needsUncond } from './cfg.ts';

describe('plain CFG on denoised estimates', () => {
  it('reproduces the golden euler run: D = D_u + (D_c − D_u)·4 from the recorded eps (D = x − σ·eps)', () => {
    const run = samplerRuns().euler;
    const tensors = new GoldenTensors(run.file);
    try {
      for (let j = 0; j < run.n_evals; j++) {
        const x = tensors.latent(`eval${j}.x`);
        const sigma = tensors.scalar(`eval${j}.sigma`);
        const epsC = tensors.latent(`eval${j}.eps_cond`);
        const epsU = tensors.latent(`eval${j}.eps_uncond`);
        const cond = x.map((v, i) => v - sigma * epsC[i]);
        const uncond = x.map((v, i) => v - sigma * epsU[i]);
        const got = cfgDenoised(cond, uncond, run.cfg);
        const cmp = compareArrays(got, tensors.latent(`eval${j}.denoised`), { atolTimesMaxAbs: 1e-4 });
        expect(cmp.ok, `eval${j} rel ${cmp.maxRel}`).toBe(true);
      }
    } finally {
      tensors.close();
    }
  });

  it('at cfg 1 skips the unconditional estimate and returns the conditional one', () => {
    expect(needsUncond(1)).toBe(false);
    expect(needsUncond(1 + 1e-12)).toBe(false);
    expect(needsUncond(1.5)).toBe(true);
    const cond = new Float64Array([1, -2, 3]);
    const out = cfgDenoised(cond, null, 1);
    expect(Array.from(out)).toEqual([1, -2, 3]);
    expect(out).not.toBe(cond);
  });

  it('extrapolates away from the unconditional estimate', () => {
    expect(Array.from(cfgDenoised([2, 0], [1, 1], 3))).toEqual([4, -2]);
  });

  it('refuses to guide without the unconditional estimate when cfg is not 1', () => {
    expect(() => cfgDenoised([1], null, 4)).toThrow(/unconditional/);
  });
});
