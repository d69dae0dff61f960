import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { EngineInputError } from '../io/engineErrors.ts';
import { GraphBuilder, type Dim } from '../onnx/graphBuilder.ts';
import { saveModel } from '../onnx/saveModel.ts';
import {
  censorImages,
  CLIP_MEAN,
  CLIP_STD,
  clipPixelValues,
  SAFETY_CHECKER_FILE,
  SAFETY_CHECKER_FOLDER,
  SafetyChecker,
  SafetyCheckerMissingError,
  SafetyCheckerModelError,
} from './safetyChecker.ts';

// Tiny stand-in classifiers built with the engine's graph builder. Their "NSFW score" is
// sigmoid(10 · (mean normalised red − mean normalised green)): a red image is "unsafe", a green
// one safe, and a grey one lands on a value that is only right if the CLIP normalisation is.
const root = mkdtempSync(join(tmpdir(), 'safety-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));

function scoreGraph(g: GraphBuilder, pixels: string): string {
  const means = g.op('ReduceMean', [pixels, g.constInt64([2, 3])], { keepdims: 0 }); // [N, 3]
  const red = g.op('Gather', [means, g.constInt64([0], [])], { axis: 1 });
  const green = g.op('Gather', [means, g.constInt64([1], [])], { axis: 1 });
  return g.op('Sigmoid', [g.op('Mul', [g.op('Sub', [red, green]), g.constScalar(10)])]); // [N]
}

function saveModelsDir(name: string, build: (g: GraphBuilder) => void): string {
  const g = new GraphBuilder(name, 'float32');
  build(g);
  const modelsDir = join(root, name);
  saveModel(g.build(), join(modelsDir, SAFETY_CHECKER_FOLDER), SAFETY_CHECKER_FILE);
  return modelsDir;
}

const pixelDims: Dim[] = ['N', 3, 224, 224];
const scoreModels = saveModelsDir('score', (g) => {
  const score = scoreGraph(g, g.input('pixel_values', 'float32', pixelDims));
  g.output(g.op('Unsqueeze', [score, g.constInt64([1])]), 'nsfw_probability', 'float32', ['N', 1]);
});
const diffusersModels = saveModelsDir('diffusers', (g) => {
  const score = scoreGraph(g, g.input('clip_input', 'float32', pixelDims));
  const images = g.input('images', 'float32', ['N', 'H', 'W', 3]);
  g.output(images, 'out_images', 'float32', ['N', 'H', 'W', 3]);
  g.output(g.op('Greater', [score, g.constScalar(0.5)]), 'has_nsfw_concepts', 'bool', ['N']);
});
const twoInputModels = saveModelsDir('two-inputs', (g) => {
  const a = g.input('a', 'float32', pixelDims);
  g.input('b', 'float32', pixelDims);
  g.output(scoreGraph(g, a), 'score', 'float32', ['N']);
});
const logitsModels = saveModelsDir('logits', (g) => {
  const score = scoreGraph(g, g.input('x', 'float32', pixelDims));
  g.output(g.op('Concat', [g.op('Unsqueeze', [score, g.constInt64([1])]), g.op('Unsqueeze', [score, g.constInt64([1])])], { axis: 1 }), 'logits', 'float32', ['N', 2]);
});

function solid(width: number, height: number, [r, g, b]: [number, number, number]) {
  const rgb = new Uint8Array(width * height * 3);
  for (let i = 0; i < width * height; i++) rgb.set([r, g, b], i * 3);
  return { rgb, width, height };
}

const sigmoid = (x: number) => 1 / (1 + Math.exp(-x));

describe('SafetyChecker', () => {
  it('without a classifier file, black_out_nsfw is a typed input error naming the expected path', async () => {
    const err = await SafetyChecker.open(join(root, 'nothing-here')).catch((e) => e);
    expect(err).toBeInstanceOf(SafetyCheckerMissingError);
    expect(err).toBeInstanceOf(EngineInputError);
    expect(err.message).toContain(join(root, 'nothing-here', 'safety_checker', 'model.onnx'));
    expect(err.message).toContain('black_out_nsfw');
  });

  it('a score classifier (type B) flags above the threshold, with CLIP-normalised 224×224 input', async () => {
    const checker = await SafetyChecker.open(scoreModels);
    expect(checker.kind).toBe('classifier');
    const red = await checker.check(solid(300, 200, [255, 0, 0]));
    const green = await checker.check(solid(64, 96, [0, 255, 0]));
    const grey = await checker.check(solid(512, 512, [128, 128, 128]));
    expect(red).toMatchObject({ nsfw: true });
    expect(green).toMatchObject({ nsfw: false });
    const expectedGrey = sigmoid(10 * ((128 / 255 - CLIP_MEAN[0]) / CLIP_STD[0] - (128 / 255 - CLIP_MEAN[1]) / CLIP_STD[1]));
    expect(grey.nsfw).toBe(false);
    expect(grey.score).toBeCloseTo(expectedGrey, 4); // float32 arithmetic in the graph
    await checker.close();
  });

  it('a diffusers StableDiffusionSafetyChecker export (type A) is driven through clip_input/images → has_nsfw_concepts', async () => {
    const checker = await SafetyChecker.open(diffusersModels);
    expect(checker.kind).toBe('diffusers');
    expect(await checker.check(solid(40, 40, [250, 10, 10]))).toEqual({ nsfw: true, score: null });
    expect(await checker.check(solid(40, 40, [10, 250, 10]))).toEqual({ nsfw: false, score: null });
    await checker.close();
  });

  it('censorImages blacks out flagged images only, keeping their size (Fooocus default_censor)', async () => {
    const checker = await SafetyChecker.open(diffusersModels);
    const red = solid(32, 16, [255, 0, 0]);
    const green = solid(32, 16, [0, 255, 0]);
    const { images, verdicts } = await censorImages(checker, [red, green]);
    expect(verdicts.map((v) => v.nsfw)).toEqual([true, false]);
    expect(images[0].rgb).toEqual(new Uint8Array(32 * 16 * 3));
    expect(images[0]).toMatchObject({ width: 32, height: 16 });
    expect(images[1]).toBe(green);
    await checker.close();
  });

  it('refuses models outside the contract with a message that states it', async () => {
    for (const dir of [twoInputModels, logitsModels]) {
      const err = await SafetyChecker.open(dir).catch((e) => e);
      expect(err, dir).toBeInstanceOf(SafetyCheckerModelError);
    }
    expect((await SafetyChecker.open(logitsModels).catch((e) => e)).message).toContain('[N] or [N, 1]');
  });

  it('preprocesses like CLIPImageProcessor: centre crop of the short side, NCHW, CLIP mean/std', async () => {
    // Left half red, right half blue, 448×224: the centre crop keeps the middle 224 columns,
    // so column 0..111 is red and 112..223 blue after the 2× downscale.
    const w = 448;
    const h = 224;
    const rgb = new Uint8Array(w * h * 3);
    for (let y = 0; y < h; y++) for (let x = 0; x < w; x++) rgb.set(x < w / 2 ? [255, 0, 0] : [0, 0, 255], (y * w + x) * 3);
    const px = await clipPixelValues({ rgb, width: w, height: h });
    expect(px.length).toBe(3 * 224 * 224);
    const at = (c: number, y: number, x: number) => px[c * 224 * 224 + y * 224 + x];
    expect(at(0, 100, 10)).toBeCloseTo((1 - CLIP_MEAN[0]) / CLIP_STD[0], 4);
    expect(at(2, 100, 10)).toBeCloseTo((0 - CLIP_MEAN[2]) / CLIP_STD[2], 4);
    expect(at(2, 100, 200)).toBeCloseTo((1 - CLIP_MEAN[2]) / CLIP_STD[2], 4);
  });
});
