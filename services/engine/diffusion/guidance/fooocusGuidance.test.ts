import { describe, expect, it } from 'vitest';
import { compareArrays } from '../../golden/compare.ts';
import { fooocusCfgDenoised } from '../../golden/fooocusCfgCases.ts';
import { GoldenTensors, goldenCases } from '../samplers/testSupport/goldenData.ts';
import type { Nchw } from './anisotropicFilter.ts';
import { cfgDenoised } from './cfg.ts';
import { diffusionProgress, fooocusGuidance } from './fooocusGuidance.ts';

const SHAPE: Nchw = [1, 4, 16, 16];

describe('Fooocus guidance (sharpness + CFG mimicking)', () => {
  const spec = goldenCases().cases.fooocus_cfg;

  for (const item of spec.items) {
    it(`case ${item.case} (cfg ${item.cfg}, sharpness ${item.sharpness}, adaptive ${item.adaptive_cfg}) reproduces Fooocus' denoised`, () => {
      const tensors = new GoldenTensors(spec.file);
      try {
        const t = tensors.scalar('t');
        expect(diffusionProgress(t)).toBe(item.progress);
        expect(0.001 * item.sharpness * diffusionProgress(t)).toBe(item.alpha);
        const got = fooocusCfgDenoised(tensors, SHAPE, item);
        const cmp = compareArrays(got, tensors.latent(`case${item.case}.denoised`), { atolTimesMaxAbs: 1e-4 });
        expect(cmp.ok, `rel ${cmp.maxRel}`).toBe(true);
      } finally {
        tensors.close();
      }
    });
  }

  it('differs from plain CFG by the sharpness term only when cfg ≤ adaptive_cfg, and by more once mimicking starts', () => {
    const tensors = new GoldenTensors(spec.file);
    try {
      const base = {
        x: tensors.latent('x'),
        shape: SHAPE,
        timestep: tensors.scalar('t'),
        posX0: tensors.latent('pos_x0'),
        negX0: tensors.latent('neg_x0'),
        adaptiveCfg: 7,
      };
      const plain4 = cfgDenoised(base.posX0, base.negX0, 4);
      const noSharpness = fooocusGuidance({ ...base, cfg: 4, sharpness: 0 });
      expect(compareArrays(noSharpness, plain4, { atol: 1e-12 }).ok).toBe(true);
      const sharp = fooocusGuidance({ ...base, cfg: 4, sharpness: 2 });
      expect(compareArrays(sharp, plain4, { atol: 1e-6 }).ok).toBe(false);

      const plain9 = cfgDenoised(base.posX0, base.negX0, 9);
      const mimicked = fooocusGuidance({ ...base, cfg: 9, sharpness: 0 });
      // p ≈ 0.31 at t = 687, so the result sits ~69% of the way from cfg 9 towards cfg 7.
      const plain7 = cfgDenoised(base.posX0, base.negX0, 7);
      const p = diffusionProgress(base.timestep);
      const expected = plain9.map((v, i) => v * p + plain7[i] * (1 - p));
      expect(compareArrays(mimicked, expected, { atol: 1e-9 }).ok).toBe(true);
    } finally {
      tensors.close();
    }
  });

  it('at cfg 1 returns the positive estimate untouched and needs no negative one', () => {
    const posX0 = new Float64Array(SHAPE.reduce((a, b) => a * b, 1)).map((_, i) => Math.sin(i));
    const x = posX0.map((v) => v * 2);
    const got = fooocusGuidance({ x, shape: SHAPE, timestep: 500, posX0, negX0: null, cfg: 1, sharpness: 30, adaptiveCfg: 7 });
    expect(Array.from(got)).toEqual(Array.from(posX0));
  });

  it('progress is 1 − t/999 in float32: 0 at t = 999 and 1 at t = 0', () => {
    expect(diffusionProgress(999)).toBe(0);
    expect(diffusionProgress(0)).toBe(1);
  });
});
