/**
 * FreeU_V2 (freeu.ts) three ways: the patch alone against the golden debug
 * tensors (blocks 0 and 6 of case 0) and against an explicit-DFT reference
 * written here the way Fooocus computes it (FFT, fftshift, the [c−1:c+1]
 * slice with Python semantics, IFFT, real part) for odd, even and unit sizes;
 * and the UNet variant against the golden eps (golden-features §7), fp32 and
 * fp16. Parameters, cases and tolerances come from cases.json.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import * as ort from 'onnxruntime-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openSafetensors, type SafetensorsFile } from '../io/safetensors.ts';
import { encodeModel, GraphBuilder, type ComputeType } from '../onnx/graphBuilder.ts';
import { checkpointWeights } from '../onnx/weightSource.ts';
import { buildFreeuPatchGraph, freeuInput, freeuStage, type FreeuParams } from './freeu.ts';
import { closeness, floats, GOLDEN_DIR, graphDir, openSession } from './testing/golden.ts';
import { buildUnetGraph } from './unetGraph.ts';

const FEATURES = '/work/shared/golden-features';
const featuresJson = JSON.parse(readFileSync(join(FEATURES, 'cases.json'), 'utf8'));
const goldenJson = JSON.parse(readFileSync(join(GOLDEN_DIR, 'cases.json'), 'utf8'));
const section = featuresJson.cases.freeu as {
  file: string;
  params: (FreeuParams & { name: string })[];
  cases: { case: number }[];
};
const FP32_TOL = featuresJson.tolerances.fp32.freeu_eps as { rtol: number; atol: number };
const FP16_TOL = featuresJson.tolerances.fp16.unet_eps as { rtol: number; atol: number };
const MODEL_CHANNELS = goldenJson.config.unet.model_channels as number;
const BASE_CHECKPOINT = join(GOLDEN_DIR, goldenJson.checkpoint);

const dirs = graphDir();
afterAll(() => dirs.remove());

async function patchSession(hChannels: number, compute: ComputeType = 'float32'): Promise<ort.InferenceSession> {
  const g = new GraphBuilder('freeu_patch', compute);
  buildFreeuPatchGraph(g, hChannels, MODEL_CHANNELS);
  return ort.InferenceSession.create(encodeModel(g.build().proto), { logSeverityLevel: 3 });
}

const tensor = (data: Float32Array, dims: number[]) => new ort.Tensor('float32', data, dims);

function randn(n: number, seed: number): Float32Array {
  let s = seed >>> 0;
  const u = () => ((s = (Math.imul(s, 1664525) + 1013904223) >>> 0) + 1) / 4294967297;
  return Float32Array.from({ length: n }, () => Math.sqrt(-2 * Math.log(u())) * Math.cos(2 * Math.PI * u()));
}

/** Python's slice start/stop for a length-n axis. */
const pySlice = (i: number, n: number) => Math.min(Math.max(i < 0 ? i + n : i, 0), n);

/** Fooocus' Fourier_filter(x, threshold 1, scale) on one [H, W] plane, by explicit DFT in float64. */
function fourierFilterReference(plane: ArrayLike<number>, H: number, W: number, scale: number): Float64Array {
  // Mask in unshifted frequency indices: shifted index j holds frequency (j − n//2) mod n.
  const masked = (n: number) => {
    const set = new Set<number>();
    const c = Math.floor(n / 2);
    for (let j = pySlice(c - 1, n); j < pySlice(c + 1, n); j++) set.add((((j - c) % n) + n) % n);
    return set;
  };
  const my = masked(H);
  const mx = masked(W);
  const re = new Float64Array(H * W);
  const im = new Float64Array(H * W);
  for (let ky = 0; ky < H; ky++) {
    for (let kx = 0; kx < W; kx++) {
      let sr = 0;
      let si = 0;
      for (let y = 0; y < H; y++) {
        for (let x = 0; x < W; x++) {
          const a = -2 * Math.PI * ((ky * y) / H + (kx * x) / W);
          sr += plane[y * W + x] * Math.cos(a);
          si += plane[y * W + x] * Math.sin(a);
        }
      }
      const m = my.has(ky) && mx.has(kx) ? scale : 1;
      re[ky * W + kx] = sr * m;
      im[ky * W + kx] = si * m;
    }
  }
  const out = new Float64Array(H * W);
  for (let y = 0; y < H; y++) {
    for (let x = 0; x < W; x++) {
      let sr = 0;
      for (let ky = 0; ky < H; ky++) {
        for (let kx = 0; kx < W; kx++) {
          const a = 2 * Math.PI * ((ky * y) / H + (kx * x) / W);
          sr += re[ky * W + kx] * Math.cos(a) - im[ky * W + kx] * Math.sin(a);
        }
      }
      out[y * W + x] = sr / (H * W);
    }
  }
  return out;
}

/** FreeU_V2's backbone scaling of one sample [C, H, W], float64. */
function backboneReference(h: ArrayLike<number>, C: number, HW: number, b: number): Float64Array {
  const mean = new Float64Array(HW);
  for (let c = 0; c < C; c++) for (let i = 0; i < HW; i++) mean[i] += h[c * HW + i] / C;
  const min = Math.min(...mean);
  const max = Math.max(...mean);
  const out = Float64Array.from(h);
  for (let c = 0; c < Math.floor(C / 2); c++) for (let i = 0; i < HW; i++) out[c * HW + i] *= (b - 1) * ((mean[i] - min) / (max - min)) + 1;
  return out;
}

describe('freeuStage', () => {
  it('patches 4·mc with (b1, s1), 2·mc with (b2, s2), nothing else', () => {
    expect([1280, 640, 320, 960].map((c) => freeuStage(c, 320))).toEqual([1, 2, null, null]);
  });
});

describe('FreeU patch graph', () => {
  const cases: SafetensorsFile = openSafetensors(join(FEATURES, section.file));
  afterAll(() => cases.close());

  it.each(section.params.map((p) => [p.name, p] as const))('%s: blocks 0 and 6 of case 0 match the golden debug tensors', async (name, p) => {
    for (const block of [0, 6]) {
      const k = (t: string) => `case0.${name}.block${block}.${t}`;
      if (!cases.has(k('h_in'))) continue;
      const hShape = cases.info(k('h_in')).shape;
      const sess = await patchSession(hShape[1]);
      const out = await sess.run({
        h: tensor(cases.float32(k('h_in')), hShape),
        skip: tensor(cases.float32(k('skip_in')), cases.info(k('skip_in')).shape),
        freeu: tensor(freeuInput(p), [4]),
      });
      const h = closeness(floats(out.h_out), cases.float32(k('h_out')), FP32_TOL);
      const skip = closeness(floats(out.skip_out), cases.float32(k('skip_out')), FP32_TOL);
      console.log(`[freeu ${name} block${block}] h_out maxAbs ${h.maxAbs.toExponential(2)}; skip_out maxAbs ${skip.maxAbs.toExponential(2)}`);
      expect(h.failures).toBe(0);
      expect(skip.failures).toBe(0);
      await sess.release();
    }
  });

  it.each([
    [1, 1],
    [1, 5],
    [2, 2],
    [3, 7],
    [5, 4],
    [6, 9],
  ])('matches the explicit-DFT Fooocus filter on a %i×%i plane', async (H, W) => {
    const hC = 4 * MODEL_CHANNELS;
    const skipC = 3;
    const p = { b1: 1.3, b2: 1.4, s1: 0.2, s2: 0.7 };
    const hData = randn(hC * H * W, H * 31 + W);
    const skipData = randn(skipC * H * W, H * 17 + W + 5);
    const sess = await patchSession(hC);
    const out = await sess.run({ h: tensor(hData, [1, hC, H, W]), skip: tensor(skipData, [1, skipC, H, W]), freeu: tensor(freeuInput(p), [4]) });
    const wantSkip = new Float64Array(skipC * H * W);
    for (let c = 0; c < skipC; c++) wantSkip.set(fourierFilterReference(skipData.subarray(c * H * W, (c + 1) * H * W), H, W, p.s1), c * H * W);
    const skip = closeness(floats(out.skip_out), wantSkip, { rtol: 1e-5, atol: 1e-5 });
    expect(skip.failures).toBe(0);
    if (H * W > 1) {
      // A single pixel has a flat channel mean: min-max normalisation is 0/0 there, NaN in Fooocus too.
      const h = closeness(floats(out.h_out), backboneReference(hData, hC, H * W, p.b1), { rtol: 1e-5, atol: 1e-5 });
      expect(h.failures).toBe(0);
    }
    await sess.release();
  });
});

describe.each([
  ['float32', FP32_TOL],
  ['float16', FP16_TOL],
] as const)('UNet with the FreeU variant, %s compute, against golden freeu eps', (compute, tol) => {
  const cases = openSafetensors(join(FEATURES, section.file));
  let checkpoint: SafetensorsFile;
  let freeu: ort.InferenceSession;
  let plain: ort.InferenceSession;
  beforeAll(async () => {
    checkpoint = openSafetensors(BASE_CHECKPOINT);
    const weights = checkpointWeights(checkpoint);
    freeu = await openSession(buildUnetGraph({ weights, compute, variant: { freeu: true } }), dirs.dir, `unet-freeu-${compute}.onnx`);
    plain = await openSession(buildUnetGraph({ weights, compute }), dirs.dir, `unet-plain-${compute}.onnx`);
  });
  afterAll(async () => {
    await freeu?.release();
    await plain?.release();
    checkpoint?.close();
    cases.close();
  });

  const feeds = (c: number) => ({
    x: tensor(cases.float32(`case${c}.x`), cases.info(`case${c}.x`).shape),
    timesteps: tensor(cases.float32(`case${c}.t`), [1]),
    context: tensor(cases.float32(`case${c}.context`), cases.info(`case${c}.context`).shape),
    y: tensor(cases.float32(`case${c}.y`), cases.info(`case${c}.y`).shape),
  });

  it.each(section.cases.map((c) => c.case))('case %i: eps for every parameter set, and identity parameters give the plain eps', async (c) => {
    for (const p of section.params) {
      const out = await freeu.run({ ...feeds(c), freeu: tensor(freeuInput(p), [4]) });
      const eps = closeness(floats(out.eps), cases.float32(`case${c}.${p.name}.eps`), tol);
      console.log(`[freeu unet ${compute} case${c} ${p.name}] eps maxAbs ${eps.maxAbs.toExponential(2)} rel ${eps.rel.toExponential(2)}`);
      expect(eps.failures).toBe(0);
    }
    const plainOut = await plain.run(feeds(c));
    expect(closeness(floats(plainOut.eps), cases.float32(`case${c}.eps_plain`), tol).failures).toBe(0);
    // b = 1 leaves h alone and s = 1 leaves the skip alone: the variant collapses to the plain UNet.
    const identity = await freeu.run({ ...feeds(c), freeu: tensor(freeuInput({ b1: 1, b2: 1, s1: 1, s2: 1 }), [4]) });
    expect(closeness(floats(identity.eps), floats(plainOut.eps), { rtol: 1e-5, atol: 1e-5 }).failures).toBe(0);
  });
});
