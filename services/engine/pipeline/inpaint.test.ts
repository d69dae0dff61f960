/**
 * KSamplerX0Inpaint as a denoiser wrapper (pipeline/inpaint.ts): the energy
 * noise stream (one CPU generator seeded seed + 1 across the whole run, base
 * and refiner), the blend of the input and of the output, and a replay of the
 * golden inpaint run's sampler loop with the recorded denoiser outputs in
 * place of the UNet: x' fed to the model, every step's x and x_final.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { latentFromVae } from '../diffusion/latentFormat.ts';
import { fooocusSamplingSigmas } from '../diffusion/samplingSigmas.ts';
import { resolveSampler } from '../diffusion/samplers/index.ts';
import { TorchGenerator, torchRandn } from '../diffusion/torchRandn.ts';
import type { Latent } from '../diffusion/types.ts';
import { inpaintSection, openCase } from '../inpaint/testSupport/inpaintGolden.ts';
import { createInpaintBlend, energySeed, type InpaintBlendRecord } from './inpaint.ts';

const run = openCase(inpaintSection.run.file);
const model = openCase(inpaintSection.model_file);
afterAll(() => {
  run.close();
  model.close();
});

const close = (got: ArrayLike<number>, want: ArrayLike<number>, atol: number) => {
  expect(got.length).toBe(want.length);
  let worst = 0;
  for (let i = 0; i < want.length; i++) worst = Math.max(worst, Math.abs(got[i] - want[i]));
  expect(worst).toBeLessThanOrEqual(atol);
};
const maxAbs = (a: ArrayLike<number>) => Array.from(a).reduce((m, v) => Math.max(m, Math.abs(v)), 0);

describe('energy noise', () => {
  it('seed + 1 (mod 2^63 − 1), as cases.json records', () => {
    expect(energySeed(BigInt(inpaintSection.run.seed))).toBe(BigInt(inpaintSection.run.energy_seed));
    expect(energySeed((1n << 63n) - 2n)).toBe(0n);
  });

  it('TorchGenerator: the first draw is torchRandn, later draws continue the stream (golden step*.energy_noise)', () => {
    const shape = run.info('step0.energy_noise').shape;
    const g = new TorchGenerator(BigInt(inpaintSection.run.energy_seed));
    const first = g.randn(shape);
    expect(Array.from(first)).toEqual(Array.from(torchRandn(shape, BigInt(inpaintSection.run.energy_seed))));
    close(first, run.float32('step0.energy_noise'), 1e-6);
    for (let i = 1; i < inpaintSection.run.steps; i++) close(g.randn(shape), run.float32(`step${i}.energy_noise`), 1e-6);
  });

  it('small tensors keep torch\'s cached second normal across draws', () => {
    const g = new TorchGenerator(7n);
    const a = g.randn([3]);
    const b = g.randn([1]);
    const whole = torchRandn([4], 7n);
    expect([...a, ...b]).toEqual(Array.from(whole));
  });
});

describe('createInpaintBlend', () => {
  const shape = [1, 2, 1, 2] as const;
  const fill = [10, 20, 30, 40];
  const mask = [1, 0];

  it('feeds x where m = 1 and fill + ε·σ where m = 0; returns D where m = 1 and the fill where m = 0', async () => {
    const records: InpaintBlendRecord[] = [];
    const seen: Latent[] = [];
    const wrap = createInpaintBlend({ fill, mask, shape, seed: 5n, onBlend: (r) => records.push(r) });
    const d = wrap(async (x) => {
      seen.push(x);
      return Float64Array.of(-1, -2, -3, -4);
    });
    const out = await d(Float64Array.of(1, 2, 3, 4), 2);
    const eps = torchRandn(shape, 5n);
    const f = Math.fround;
    expect(Array.from(seen[0])).toEqual([1, f(20 + f(eps[1] * 2)), 3, f(40 + f(eps[3] * 2))]);
    expect(Array.from(out)).toEqual([-1, 20, -3, 40]);
    expect(Array.from(records[0].energy)).toEqual(Array.from(eps));
  });

  it('two wrapped denoisers (base, refiner) share one generator', async () => {
    const energies: Float32Array[] = [];
    const wrap = createInpaintBlend({ fill, mask, shape, seed: 5n, onBlend: (r) => energies.push(r.energy) });
    const inner = async (x: Latent) => x;
    await wrap(inner)(new Float64Array(4), 1);
    await wrap(inner)(new Float64Array(4), 1);
    const g = new TorchGenerator(5n);
    expect(Array.from(energies[0])).toEqual(Array.from(g.randn(shape)));
    expect(Array.from(energies[1])).toEqual(Array.from(g.randn(shape)));
  });

  it('refuses a fill or mask of the wrong size', () => {
    expect(() => createInpaintBlend({ fill: [1], mask, shape, seed: 0n })).toThrow(RangeError);
    expect(() => createInpaintBlend({ fill, mask: [1], shape, seed: 0n })).toThrow(RangeError);
  });
});

describe('golden inpaint run replayed without the UNet', () => {
  it('euler over the wrapper reproduces every step x, the UNet input and x_final', async () => {
    const r = inpaintSection.run;
    const shape = run.info('x_final').shape as [number, number, number, number];
    const { sigmas, modelSampling } = fooocusSamplingSigmas({ scheduler: r.scheduler, steps: r.steps, sampler: 'euler', denoise: r.denoise });
    const fillLatent = latentFromVae(model.float32('latent_fill'), modelSampling.kind, shape);
    const wrap = createInpaintBlend({ fill: fillLatent, mask: model.float32('latent_mask'), shape, seed: energySeed(BigInt(r.seed)) });
    let step = 0;
    const recorded = async (x: Latent, sigma: number) => {
      // The model saw x'·c_in; its (guided) output at repaint positions is the recorded blended denoised.
      const cIn = 1 / Math.sqrt(sigma * sigma + 1);
      const want = run.float32(`step${step}.cond.unet_x`);
      close(Float64Array.from(x, (v) => v * cIn), want, 1e-4 * maxAbs(want));
      return Float64Array.from(run.float32(`step${step++}.denoised_blended`));
    };
    const xInit = Float64Array.from(run.float32('step0.x'));
    const xs: Latent[] = [];
    const xFinal = await resolveSampler('euler').run(wrap(recorded), xInit, sigmas, {
      model: modelSampling,
      onStep: (info) => void xs.push(Float64Array.from(info.x)),
    });
    expect(step).toBe(r.steps);
    for (let i = 0; i < r.steps; i++) close(xs[i], run.float32(`step${i}.x`), 1e-4 * maxAbs(run.float32(`step${i}.x`)));
    close(xFinal, run.float32('x_final'), 1e-4 * maxAbs(run.float32('x_final')));
  });
});
