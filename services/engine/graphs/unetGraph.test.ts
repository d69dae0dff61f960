/**
 * The UNet graph against the golden set: the tiny SDXL base (golden §2.4) and
 * the tiny refiner (golden-features §2), both compute types, plus config
 * inference on full-size SDXL shapes and odd latent sizes. Configs and
 * tolerances are read from the sets' cases.json, so another tiny set in the
 * same format runs unchanged.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import * as ort from 'onnxruntime-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CheckpointError } from '../io/engineErrors.ts';
import { f32Bytes, writeSafetensors } from '../io/testSupport/writeSafetensors.ts';
import { openSafetensors, type SafetensorsFile } from '../io/safetensors.ts';
import { GraphBuilder, type ComputeType } from '../onnx/graphBuilder.ts';
import { checkpointWeights, type WeightSource } from '../onnx/weightSource.ts';
import { inferUnetConfig, type UnetConfig } from './unetConfig.ts';
import { buildUnetGraph } from './unetGraph.ts';
import { unetLayout } from './unetLayout.ts';
import { upsampleTo } from './unetResample.ts';
import { closeness, GOLDEN_DIR, graphDir, openSession } from './testing/golden.ts';
import { unetWeightShapes } from './unetWeightManifest.ts';

const GOLDEN = GOLDEN_DIR;
const FEATURES = '/work/shared/golden-features';
const goldenJson = JSON.parse(readFileSync(join(GOLDEN, 'cases.json'), 'utf8'));
const featuresJson = JSON.parse(readFileSync(join(FEATURES, 'cases.json'), 'utf8'));
const FP32_TOL = goldenJson.tolerances.fp32.unet_eps as { rtol: number; atol: number };
const FP16_TOL = goldenJson.tolerances.fp16.unet_eps as { rtol: number; atol: number };
const EMB_TOL = goldenJson.tolerances.fp32.embeddings as { rtol: number; atol: number };

const dirs = graphDir();
const tmp = dirs.dir;
afterAll(() => dirs.remove());

function tensorOf(file: SafetensorsFile, key: string): ort.Tensor {
  return new ort.Tensor('float32', file.float32(key), file.info(key).shape);
}

/** ComfyUI-style config from a cases.json `{unet: {...}}` block plus derived widths. */
function expectedConfig(unet: { model_channels: number; channel_mult: number[]; num_res_blocks: number; depth: number[]; depth_mid: number; head_ch?: number }, contextDim: number, admInChannels: number): UnetConfig {
  const levels = unet.channel_mult.length;
  return {
    inChannels: 4,
    outChannels: 4,
    modelChannels: unet.model_channels,
    channelMult: unet.channel_mult,
    numResBlocks: Array(levels).fill(unet.num_res_blocks),
    transformerDepth: unet.depth.flatMap((d) => Array(unet.num_res_blocks).fill(d)),
    transformerDepthOutput: unet.depth.flatMap((d) => Array(unet.num_res_blocks + 1).fill(d)),
    transformerDepthMiddle: unet.depth_mid,
    contextDim,
    admInChannels,
    timeEmbedDim: 4 * unet.model_channels,
    numHeadChannels: unet.head_ch ?? 64,
    useLinearInTransformer: true,
  };
}

/** A WeightSource with shapes only (no bytes): enough for config inference and graph building. */
function shapeOnlyWeights(shapes: Map<string, number[]>): WeightSource {
  return {
    name: 'synthetic',
    has: (k) => shapes.has(k),
    ref: (k) => {
      const shape = shapes.get(k);
      if (!shape) throw new CheckpointError('synthetic', 'missing_tensor', `tensor ${k} is missing`);
      return { key: k, dtype: 'F16', shape, file: '/nonexistent/synthetic.safetensors', offset: 0, byteLength: 2 * shape.reduce((a, b) => a * b, 1) };
    },
    keys: () => shapes.keys(),
  };
}

function session(weights: WeightSource, compute: ComputeType): Promise<ort.InferenceSession> {
  return openSession(buildUnetGraph({ weights, compute, variant: { debugOutputs: true } }), tmp, `unet-${compute}-${weights.name.replace(/\W+/g, '_')}.onnx`);
}

function randn(n: number, seed: number): Float32Array {
  // Small LCG + Box–Muller: deterministic inputs for shape tests, no reference needed.
  let s = seed >>> 0;
  const u = () => ((s = (Math.imul(s, 1664525) + 1013904223) >>> 0) + 1) / 4294967297;
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) out[i] = Math.sqrt(-2 * Math.log(u())) * Math.cos(2 * Math.PI * u());
  return out;
}

describe('inferUnetConfig', () => {
  it('recovers the tiny SDXL base config of golden cases.json', () => {
    const file = openSafetensors(join(GOLDEN, goldenJson.checkpoint));
    const d = goldenJson.config.derived;
    expect(inferUnetConfig(checkpointWeights(file))).toEqual(expectedConfig(goldenJson.config.unet, d.unet_context_dim, d.unet_adm_in_channels));
    file.close();
  });

  it('recovers the tiny refiner config (4 levels, last level without attention, middle depth 2)', () => {
    const r = featuresJson.cases.refiner;
    const file = openSafetensors(join(FEATURES, r.checkpoint));
    expect(inferUnetConfig(checkpointWeights(file))).toEqual(expectedConfig(r.config.unet, r.derived.context_dim, r.derived.adm_in_channels));
    file.close();
  });

  // Full-size configs as ComfyUI's model_detection lists them; shapes come from the manifest of each.
  const sdxlBase: UnetConfig = {
    inChannels: 4, outChannels: 4, modelChannels: 320, channelMult: [1, 2, 4], numResBlocks: [2, 2, 2],
    transformerDepth: [0, 0, 2, 2, 10, 10], transformerDepthOutput: [0, 0, 0, 2, 2, 2, 10, 10, 10], transformerDepthMiddle: 10,
    contextDim: 2048, admInChannels: 2816, timeEmbedDim: 1280, numHeadChannels: 64, useLinearInTransformer: true,
  };
  const sdxlRefiner: UnetConfig = {
    inChannels: 4, outChannels: 4, modelChannels: 384, channelMult: [1, 2, 4, 4], numResBlocks: [2, 2, 2, 2],
    transformerDepth: [0, 0, 4, 4, 4, 4, 0, 0], transformerDepthOutput: [0, 0, 0, 4, 4, 4, 4, 4, 4, 0, 0, 0], transformerDepthMiddle: 4,
    contextDim: 1280, admInChannels: 2560, timeEmbedDim: 1536, numHeadChannels: 64, useLinearInTransformer: true,
  };
  const convProjections: UnetConfig = { ...sdxlBase, modelChannels: 64, timeEmbedDim: 256, contextDim: 96, admInChannels: 320, transformerDepthMiddle: -1, useLinearInTransformer: false, inChannels: 9 };

  it.each([
    // 70 transformer blocks × 20 tensors + 280 others; the refiner 44 × 20 + 340.
    ['SDXL 1.0 base', sdxlBase, 1680],
    ['SDXL 1.0 refiner', sdxlRefiner, 1220],
    ['conv proj_in/out, 9 input channels, middle without attention', convProjections, null],
  ] as const)('round-trips %s from tensor shapes alone', (_name, config, tensorCount) => {
    const shapes = unetWeightShapes(unetLayout(config));
    if (tensorCount !== null) expect(shapes.size).toBe(tensorCount);
    expect(inferUnetConfig(shapeOnlyWeights(shapes))).toEqual(config);
  });

  it('builds a graph whose initializers are exactly the manifest (full-size refiner, no bytes read)', () => {
    const shapes = unetWeightShapes(unetLayout(sdxlRefiner));
    const built = buildUnetGraph({ weights: shapeOnlyWeights(shapes), compute: 'float16' });
    const external = built.proto.graph!.initializer!.filter((t) => (t.externalData?.length ?? 0) > 0).map((t) => t.name);
    expect(new Set(external)).toEqual(new Set(shapes.keys()));
  });

  it('rejects a tensor of the wrong shape with bad_shape naming it', () => {
    const shapes = unetWeightShapes(unetLayout(sdxlBase));
    shapes.set('output_blocks.3.1.transformer_blocks.1.attn2.to_k.weight', [1280, 1280]);
    expect(() => buildUnetGraph({ weights: shapeOnlyWeights(shapes), compute: 'float32' })).toThrow(
      expect.objectContaining({ reason: 'bad_shape', message: expect.stringContaining('output_blocks.3.1.transformer_blocks.1.attn2.to_k.weight') }),
    );
  });
});

describe.each([
  ['float32', FP32_TOL],
  ['float16', FP16_TOL],
] as const)('tiny SDXL base UNet, %s compute, against golden unet cases', (compute, tol) => {
  const cases = openSafetensors(join(GOLDEN, goldenJson.cases.unet.file));
  let sess: ort.InferenceSession;
  let file: SafetensorsFile;
  beforeAll(async () => {
    file = openSafetensors(join(GOLDEN, goldenJson.checkpoint));
    sess = await session(checkpointWeights(file), compute);
  });
  afterAll(async () => {
    await sess?.release();
    file?.close();
  });

  const caseIds = (goldenJson.cases.unet.items as { case: number }[]).map((c) => c.case);
  it.each(caseIds)('case %i: eps, emb and t_sinusoidal within tolerance', async (c) => {
    const k = (name: string) => `case${c}.${name}`;
    const out = await sess.run({
      x: tensorOf(cases, k('x')), timesteps: tensorOf(cases, k('timesteps')), context: tensorOf(cases, k('context')), y: tensorOf(cases, k('y')),
    });
    expect(out.eps.dims).toEqual(cases.info(k('eps')).shape);
    const eps = closeness(out.eps.data as Float32Array, cases.float32(k('eps')), tol);
    const emb = closeness(out.debug_emb.data as Float32Array, cases.float32(k('debug.emb')), tol);
    const sin = closeness(out.debug_t_sinusoidal.data as Float32Array, cases.float32(k('debug.t_sinusoidal')), EMB_TOL);
    console.log(`[unet ${compute} case${c}] eps maxAbs ${eps.maxAbs.toExponential(2)} rel ${eps.rel.toExponential(2)}; emb maxAbs ${emb.maxAbs.toExponential(2)}; t_sinusoidal maxAbs ${sin.maxAbs.toExponential(2)}`);
    expect(eps.failures).toBe(0);
    // The sinusoid is float32 in both compute types (timestepEmbedding.ts), so the fp32 tolerance applies.
    expect(sin.failures).toBe(0);
    expect(emb.failures).toBe(0);
  });

  it.each([
    [16, 20],
    [18, 22], // 18 → 9 → 5: the upsample must return to 9, not 10
    [9, 13],
    [1, 1],
  ])('runs odd latent %i×%i and returns eps of the input size', async (h, w) => {
    const ctx = file.info('model.diffusion_model.input_blocks.4.1.transformer_blocks.0.attn2.to_k.weight').shape[1];
    const adm = file.info('model.diffusion_model.label_emb.0.0.weight').shape[1];
    const out = await sess.run({
      x: new ort.Tensor('float32', randn(4 * h * w, 1), [1, 4, h, w]),
      timesteps: new ort.Tensor('float32', Float32Array.of(321.5), [1]),
      context: new ort.Tensor('float32', randn(33 * ctx, 2), [1, 33, ctx]),
      y: new ort.Tensor('float32', randn(adm, 3), [1, adm]),
    });
    expect(out.eps.dims).toEqual([1, 4, h, w]);
    expect((out.eps.data as Float32Array).every(Number.isFinite)).toBe(true);
  });
});

describe('tiny SDXL refiner UNet against golden-features refiner cases', () => {
  const r = featuresJson.cases.refiner;
  const cases = openSafetensors(join(FEATURES, r.text_file));
  let file: SafetensorsFile;
  const sessions = new Map<ComputeType, ort.InferenceSession>();
  beforeAll(async () => {
    file = openSafetensors(join(FEATURES, r.checkpoint));
    for (const compute of ['float32', 'float16'] as const) sessions.set(compute, await session(checkpointWeights(file), compute));
  });
  afterAll(async () => {
    for (const s of sessions.values()) await s.release();
    file?.close();
  });

  it.each([
    ['float32', FP32_TOL],
    ['float16', FP16_TOL],
  ] as const)('%s: eps and emb of both cases within tolerance', async (compute, tol) => {
    for (const item of r.unet_items as { case: number }[]) {
      const k = (name: string) => `unet.case${item.case}.${name}`;
      const out = await sessions.get(compute)!.run({
        x: tensorOf(cases, k('x')), timesteps: tensorOf(cases, k('timesteps')), context: tensorOf(cases, k('context')), y: tensorOf(cases, k('y')),
      });
      const eps = closeness(out.eps.data as Float32Array, cases.float32(k('eps')), tol);
      const emb = closeness(out.debug_emb.data as Float32Array, cases.float32(k('debug.emb')), tol);
      console.log(`[refiner ${compute} case${item.case}] eps maxAbs ${eps.maxAbs.toExponential(2)} rel ${eps.rel.toExponential(2)}; emb maxAbs ${emb.maxAbs.toExponential(2)}`);
      expect(eps.failures).toBe(0);
      expect(emb.failures).toBe(0);
    }
  });

  it('runs a 20×20 latent, whose 5 → 3 downsample must come back up as 3 → 5', async () => {
    const out = await sessions.get('float32')!.run({
      x: new ort.Tensor('float32', randn(4 * 400, 4), [1, 4, 20, 20]),
      timesteps: new ort.Tensor('float32', Float32Array.of(10), [1]),
      context: new ort.Tensor('float32', randn(77 * r.derived.context_dim, 5), [1, 77, r.derived.context_dim]),
      y: new ort.Tensor('float32', randn(r.derived.adm_in_channels, 6), [1, r.derived.adm_in_channels]),
    });
    expect(out.eps.dims).toEqual([1, 4, 20, 20]);
    expect((out.eps.data as Float32Array).every(Number.isFinite)).toBe(true);
  });
});

describe('upsampleTo', () => {
  it('matches torch nearest interpolation to the skip size (src = floor(dst · in/out)), odd sizes included', async () => {
    // An identity 3x3 conv, so what is compared is the resize itself.
    const weightsPath = writeSafetensors(join(tmp, 'identity-conv.safetensors'), [
      { name: 'up.bias', dtype: 'F32', shape: [1], data: f32Bytes([0]) },
      { name: 'up.weight', dtype: 'F32', shape: [1, 1, 3, 3], data: f32Bytes([0, 0, 0, 0, 1, 0, 0, 0, 0]) },
    ]);
    const weightsFile = openSafetensors(weightsPath);
    const g = new GraphBuilder('up', 'float32', checkpointWeights(weightsFile));
    const x = g.input('x', 'float32', [1, 1, 'h', 'w']);
    const like = g.input('like', 'float32', [1, 1, 'H', 'W']);
    g.output(upsampleTo(g, x, like, 'up'), 'out', 'float32', [1, 1, 'H', 'W']);
    const sess = await openSession(g.build(), tmp, 'upsample.onnx');
    for (const [h, w, H, W] of [[3, 3, 5, 5], [5, 6, 9, 11], [4, 4, 8, 8], [2, 3, 3, 5]]) {
      const xs = Float32Array.from({ length: h * w }, (_, i) => i);
      const out = await sess.run({ x: new ort.Tensor('float32', xs, [1, 1, h, w]), like: new ort.Tensor('float32', new Float32Array(H * W), [1, 1, H, W]) });
      const want = new Float32Array(H * W);
      for (let i = 0; i < H; i++) {
        for (let j = 0; j < W; j++) want[i * W + j] = xs[Math.floor((i * h) / H) * w + Math.floor((j * w) / W)];
      }
      expect(out.out.dims).toEqual([1, 1, H, W]);
      expect(Array.from(out.out.data as Float32Array)).toEqual(Array.from(want));
    }
    await sess.release();
    weightsFile.close();
  });
});
