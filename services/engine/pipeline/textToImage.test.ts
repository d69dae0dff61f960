/**
 * Job fields that shape the conditioning and the UNet reach them: clip_skip
 * (1..12) picks the hidden state, the ADM scalers (positive, negative, end)
 * pick the size conditioning and when it switches, FreeU runs the UNet's FreeU
 * variant with the job's parameters. A recording stand-in for the
 * checkpoint's UNet call shows what the UNet was fed; Engine.generate shows
 * the effect on the image, on the tiny golden checkpoint.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { admSwitchTimestep, fooocusAdm } from '../conditioning/admConditioning.ts';
import { Engine } from '../engine.ts';
import type { FreeuParams } from '../graphs/freeu.ts';
import { TINY_CHECKPOINT } from '../graphs/testing/golden.ts';
import { EngineInputError } from '../io/engineErrors.ts';
import type { TextToImageJob } from '../job.ts';
import { LoadedCheckpoint } from '../runtime/loadedCheckpoint.ts';
import { encodeWorkloads, type TextConditioning } from './encodePrompt.ts';
import { sampleTextToImage } from './textToImage.ts';

interface Feed {
  t: number;
  yCond: Float32Array;
  freeu?: FreeuParams;
}

/** The checkpoint with its UNet calls recorded (t, the cond row of y, the FreeU option). */
function recording(model: LoadedCheckpoint, feeds: Feed[]): LoadedCheckpoint {
  const unet: LoadedCheckpoint['unet'] = (x, timesteps, context, y, opts) => {
    feeds.push({ t: timesteps[0], yCond: y.data.slice(0, y.data.length / x.dims[0]), freeu: opts?.freeu });
    return model.unet(x, timesteps, context, y, opts);
  };
  return new Proxy(model, {
    get: (target, prop) => {
      if (prop === 'unet') return unet;
      const v = Reflect.get(target, prop, target) as unknown;
      return typeof v === 'function' ? (v as (...a: unknown[]) => unknown).bind(target) : v;
    },
  });
}

const baseJob = (over: Partial<TextToImageJob> = {}): TextToImageJob => ({
  checkpoint: TINY_CHECKPOINT,
  positive: ['a red fox in the snow'], negative: ['blurry'],
  width: 64, height: 64, steps: 4, sampler: 'euler', scheduler: 'karras', cfg: 4, seeds: [11n],
  ...over,
});

let cacheDir: string;
let model: LoadedCheckpoint;
let positive: TextConditioning;
let negative: TextConditioning;
beforeAll(async () => {
  cacheDir = mkdtempSync(join(tmpdir(), 'txt2img-flow-'));
  model = await LoadedCheckpoint.load(TINY_CHECKPOINT, { cacheDir, compute: 'float32', session: { providers: ['cpu'] } });
  positive = await encodeWorkloads(model, baseJob().positive);
  negative = await encodeWorkloads(model, baseJob().negative);
});
afterAll(async () => {
  await model.close();
  rmSync(cacheDir, { recursive: true, force: true });
});

async function sample(job: TextToImageJob) {
  const feeds: Feed[] = [];
  const latent = await sampleTextToImage({ model: recording(model, feeds), job, seed: job.seeds[0], positive, negative });
  return { latent, feeds };
}

const differ = (a: ArrayLike<number>, b: ArrayLike<number>) => Array.from(a).some((v, i) => v !== b[i]);

describe('clip_skip', () => {
  it('1 and 2 give different contexts (last vs penultimate state), the same pooled vector, and separate cache entries', async () => {
    const cache = new Map<string, TextConditioning>();
    const skip1 = await encodeWorkloads(model, ['a red fox in the snow'], { clipSkip: 1, cache });
    const skip2 = await encodeWorkloads(model, ['a red fox in the snow'], { clipSkip: 2, cache });
    expect(skip1.context.length).toBe(skip2.context.length);
    expect(differ(skip1.context, skip2.context)).toBe(true);
    expect(Array.from(skip1.pooled)).toEqual(Array.from(skip2.pooled));
    expect(cache.size).toBe(2);
    // Deeper than the tiny 2-layer encoders + embeddings: an input error, as Fooocus's IndexError
    // (SDXL's 12/32-layer encoders reach every clip_skip the API accepts).
    await expect(encodeWorkloads(model, ['a red fox in the snow'], { clipSkip: 12 })).rejects.toThrow(/exceeds this text encoder/);
  });
});

describe('ADM scalers', () => {
  it('end 0.3 feeds the emphasized (scaled) sizes while t > 699.3, end 0 never does, and the latents differ', async () => {
    const adm = { positive: 1.5, negative: 0.8 };
    const a = await sample(baseJob({ adm: { ...adm, end: 0.3 } }));
    const b = await sample(baseJob({ adm: { ...adm, end: 0 } }));
    const pair = fooocusAdm(positive.pooled, 64, 64, adm.positive);
    expect(a.feeds[0].t).toBeGreaterThan(admSwitchTimestep(0.3));
    expect(Array.from(a.feeds[0].yCond)).toEqual(Array.from(pair.emphasized));
    expect(Array.from(b.feeds[0].yCond)).toEqual(Array.from(pair.consistent));
    for (const f of a.feeds.filter((f) => f.t <= admSwitchTimestep(0.3))) expect(Array.from(f.yCond)).toEqual(Array.from(pair.consistent));
    expect(differ(a.latent, b.latent)).toBe(true);
  });

  it('the positive scaler from the job sets the emphasized original size', async () => {
    const { feeds } = await sample(baseJob({ adm: { positive: 1.2, negative: 0.8, end: 0.3 } }));
    expect(Array.from(feeds[0].yCond)).toEqual(Array.from(fooocusAdm(positive.pooled, 64, 64, 1.2).emphasized));
  });
});

describe('FreeU', () => {
  it('runs the UNet’s FreeU variant with the job’s parameters, and changes the result', async () => {
    const freeu = { b1: 1.3, b2: 1.4, s1: 0.9, s2: 0.2 };
    const withFreeu = await sample(baseJob({ freeu }));
    const plain = await sample(baseJob());
    expect(withFreeu.feeds.every((f) => f.freeu === freeu)).toBe(true);
    expect(plain.feeds.every((f) => f.freeu === undefined)).toBe(true);
    expect(differ(withFreeu.latent, plain.latent)).toBe(true);
  });
});

describe('Engine: clip_skip, ADM and FreeU from the job', () => {
  let engine: Engine;
  beforeAll(() => {
    engine = new Engine({ cacheDir });
  });
  afterAll(() => engine.close());

  const png = async (over: Partial<TextToImageJob>) => Buffer.from((await engine.generate(baseJob(over)))[0].data);

  it('each of clip_skip 1, ADM end 0 and FreeU changes the image', async () => {
    const plain = await png({ clipSkip: 2 });
    expect(plain.equals(await png({}))).toBe(true);
    expect(plain.equals(await png({ clipSkip: 1 }))).toBe(false);
    expect(plain.equals(await png({ adm: { positive: 1.5, negative: 0.8, end: 0 } }))).toBe(false);
    expect(plain.equals(await png({ freeu: { b1: 1.3, b2: 1.4, s1: 0.9, s2: 0.2 } }))).toBe(false);
  }, 120_000);

  it('rejects clip_skip outside 1..12, non-finite ADM scalers and FreeU parameters with input errors', async () => {
    for (const clipSkip of [0, 13, 1.5]) await expect(engine.generate(baseJob({ clipSkip }))).rejects.toBeInstanceOf(EngineInputError);
    await expect(engine.generate(baseJob({ adm: { positive: Number.NaN, negative: 0.8, end: 0.3 } }))).rejects.toBeInstanceOf(EngineInputError);
    await expect(engine.generate(baseJob({ freeu: { b1: 1, b2: Infinity, s1: 1, s2: 1 } }))).rejects.toBeInstanceOf(EngineInputError);
  });
});
