import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Engine } from './engine.ts';
import { EngineHost } from './engineHost.ts';
import { CheckpointError, EngineAbortedError, EngineInputError } from './io/engineErrors.ts';
import type { TextToImageJob } from './job.ts';
import { GraphBuilder } from './onnx/graphBuilder.ts';
import { saveModel } from './onnx/saveModel.ts';

const shared = process.env.FOOOCUS_SHARED ?? resolve(import.meta.dirname, '../../../shared');
const checkpoint = join(shared, 'golden/tiny-sdxl.safetensors');

const job = (over: Partial<TextToImageJob> = {}): TextToImageJob => ({
  checkpoint,
  positive: ['a (red:1.2) fox in the snow'],
  negative: ['blurry'],
  width: 128, height: 96, steps: 3,
  sampler: 'dpmpp_2m_sde_gpu', scheduler: 'karras', cfg: 4,
  seeds: [7n],
  ...over,
});

describe('Engine (tiny golden checkpoint, CPU)', () => {
  let cacheDir: string;
  let engine: Engine;
  beforeAll(() => {
    cacheDir = mkdtempSync(join(tmpdir(), 'engine-test-'));
    engine = new Engine({ cacheDir });
  });
  afterAll(async () => {
    await engine.close();
    rmSync(cacheDir, { recursive: true, force: true });
  });

  it.each(['png', 'jpeg', 'webp'] as const)('writes a valid %s of the requested size', async (format) => {
    const [img] = await engine.generate(job({ format }));
    const meta = await sharp(Buffer.from(img.data)).metadata();
    expect(meta.format).toBe(format);
    expect([meta.width, meta.height]).toEqual([128, 96]);
    expect(img.seed).toBe(7n);
  });

  it('is deterministic: same seed and inputs give identical bytes', async () => {
    const a = await engine.generate(job({ seeds: [123n, 124n] }));
    const b = await engine.generate(job({ seeds: [123n, 124n] }));
    expect(Buffer.from(a[0].data).equals(Buffer.from(b[0].data))).toBe(true);
    expect(Buffer.from(a[1].data).equals(Buffer.from(b[1].data))).toBe(true);
    // Different seeds give different images.
    expect(Buffer.from(a[0].data).equals(Buffer.from(a[1].data))).toBe(false);
  });

  it('reuses graphs built on disk: a second engine loads without rebuilding', async () => {
    const first = await engine.load(checkpoint);
    expect(first.builtGraphs.length).toBeGreaterThan(0);
    const second = new Engine({ cacheDir });
    try {
      const model = await second.load(checkpoint);
      expect(model.builtGraphs).toEqual([]);
    } finally {
      await second.close();
    }
  });

  it('reports progress per step, with previews when asked', async () => {
    const seen: number[] = [];
    let previews = 0;
    await engine.generate(job({ previews: true, steps: 4 }), {
      onProgress: (p) => {
        seen.push(p.step);
        if (p.preview && p.preview[0] === 0xff && p.preview[1] === 0xd8) previews++;
      },
    });
    expect(seen).toEqual([1, 2, 3, 4]);
    expect(previews).toBe(4);
  });

  it('rejects an unknown scheduler and a size that is not a multiple of 8 with input errors', async () => {
    await expect(engine.generate(job({ scheduler: 'nope' }))).rejects.toBeInstanceOf(EngineInputError);
    await expect(engine.generate(job({ width: 130 }))).rejects.toBeInstanceOf(EngineInputError);
  });
});

describe('EngineHost (worker thread)', () => {
  let cacheDir: string;
  let host: EngineHost;
  beforeAll(() => {
    cacheDir = mkdtempSync(join(tmpdir(), 'engine-host-'));
    host = new EngineHost({ cacheDir });
  });
  afterAll(async () => {
    await host.close();
    rmSync(cacheDir, { recursive: true, force: true });
  });

  it('generates in the thread and keeps the main event loop free meanwhile', async () => {
    let ticks = 0;
    const timer = setInterval(() => ticks++, 5);
    const images = await host.generate(job({ steps: 4 }));
    clearInterval(timer);
    expect(images).toHaveLength(1);
    // The main thread kept running timers while the engine worked (it never blocked for the whole run).
    expect(ticks).toBeGreaterThan(0);
  });

  it('stops between steps when the signal aborts, with the stop kind preserved', async () => {
    const ac = new AbortController();
    const steps: number[] = [];
    const run = host.generate(job({ steps: 8, seeds: [1n, 2n] }), {
      signal: ac.signal,
      onProgress: (p) => {
        steps.push(p.step);
        if (steps.length === 2) ac.abort(new EngineAbortedError('stop'));
      },
    });
    const err = await run.catch((e: unknown) => e);
    expect(err).toBeInstanceOf(EngineAbortedError);
    expect((err as EngineAbortedError).kind).toBe('stop');
    expect(steps.length).toBeLessThan(16);
  });

  it('passes a bad checkpoint back as a typed CheckpointError', async () => {
    const err = await host.generate(job({ checkpoint: join(cacheDir, 'missing.safetensors') })).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(CheckpointError);
    expect((err as CheckpointError).reason).toBe('not_found');
  });
});

describe('Engine with a symlinked checkpoint', () => {
  it('generates from a checkpoint that is a symbolic link (the graph links the real file)', async () => {
    const { symlinkSync } = await import('node:fs');
    const dir = mkdtempSync(join(tmpdir(), 'engine-symlink-'));
    try {
      const link = join(dir, 'linked.safetensors');
      symlinkSync(checkpoint, link);
      const engine = new Engine({ cacheDir: join(dir, 'cache') });
      try {
        const [img] = await engine.generate(job({ checkpoint: link, steps: 2 }));
        expect((await sharp(Buffer.from(img.data)).metadata()).width).toBe(128);
      } finally {
        await engine.close();
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('Engine: Fooocus V2 expansion and black_out_nsfw (tiny models, CPU)', () => {
  const expansionFolder = join(shared, 'golden-features/prompt_expansion/fooocus_expansion_tiny');
  let dir: string;
  let engine: Engine;
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'engine-features-'));
    engine = new Engine({ cacheDir: join(dir, 'cache') });
  });
  afterAll(async () => {
    await engine.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it('expands per image with its seed and appends the text as the last workload, outside the pooled top-k', async () => {
    const positive = ['a fox in the snow'];
    const negative = ['blurry'];
    const [a, b] = await engine.generate(
      job({ positive, negative, seeds: [11n, 12n], expansionFolder, perImagePrompts: [
        { positive, negative, expansionSource: 'a fox in the snow' },
        { positive, negative, expansionSource: 'a fox in the snow' },
      ] }),
    );
    expect(a.expansion).toMatch(/^a fox in the snow, \S/);
    expect(a.positive).toEqual([...positive, a.expansion]);
    expect(a.negative).toEqual(negative);
    expect(b.expansion).toMatch(/^a fox in the snow, /);
    // The same as encoding the expansion as a plain last workload with top-k 1 (not pooled) …
    const [plain] = await engine.generate(job({ positive: [...positive, a.expansion!], negative, positiveTopK: 1, seeds: [11n] }));
    expect(Buffer.from(plain.data).equals(Buffer.from(a.data))).toBe(true);
    // … and not the same as pooling it.
    const [pooled] = await engine.generate(job({ positive: [...positive, a.expansion!], negative, positiveTopK: 2, seeds: [11n] }));
    expect(Buffer.from(pooled.data).equals(Buffer.from(a.data))).toBe(false);
    // Deterministic per seed.
    const [again] = await engine.generate(job({ positive, negative, seeds: [11n], expansionFolder, perImagePrompts: [{ positive, negative, expansionSource: 'a fox in the snow' }] }));
    expect(again.expansion).toBe(a.expansion);
  });

  it('an expansion folder lacking files is a CheckpointError (not_found) naming them, also across the thread', async () => {
    const empty = join(dir, 'no-expansion');
    const request = job({ expansionFolder: empty, perImagePrompts: [{ positive: ['a fox'], negative: [], expansionSource: 'a fox' }] });
    const err = await engine.generate(request).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(CheckpointError);
    expect((err as CheckpointError).reason).toBe('not_found');
    expect((err as Error).message).toContain('config.json');
    const host = new EngineHost({ cacheDir: join(dir, 'cache') });
    try {
      const viaHost = await host.generate(request).catch((e: unknown) => e);
      expect(viaHost).toBeInstanceOf(CheckpointError);
      expect((viaHost as Error).message).toContain('fooocus_expansion');
    } finally {
      await host.close();
    }
  });

  it('black_out_nsfw: a flagged image comes back black, an unflagged one untouched; a missing classifier is an input error', async () => {
    const classifier = (name: string, flag: boolean): string => {
      const g = new GraphBuilder(name, 'float32');
      const mean = g.op('ReduceMean', [g.input('pixel_values', 'float32', ['N', 3, 224, 224]), g.constInt64([1, 2, 3])], { keepdims: 0 });
      g.output(g.op('Greater', [mean, g.constScalar(flag ? -1e6 : 1e6)]), 'flagged', 'bool', ['N']);
      saveModel(g.build(), join(dir, name), 'model.onnx');
      return join(dir, name, 'model.onnx');
    };
    const [black] = await engine.generate(job({ blackOutNsfw: { modelPath: classifier('always', true) } }));
    expect(black.nsfw).toBe(true);
    const raw = await sharp(Buffer.from(black.data)).raw().toBuffer();
    expect(raw.every((v) => v === 0)).toBe(true);
    const [kept] = await engine.generate(job({ blackOutNsfw: { modelPath: classifier('never', false) } }));
    const [plain] = await engine.generate(job());
    expect(kept.nsfw).toBe(false);
    expect(Buffer.from(kept.data).equals(Buffer.from(plain.data))).toBe(true);
    await expect(engine.generate(job({ blackOutNsfw: { modelPath: join(dir, 'missing', 'model.onnx') } }))).rejects.toBeInstanceOf(EngineInputError);
  });
});
