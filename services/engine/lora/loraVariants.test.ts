import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Engine } from '../engine.ts';
import { CheckpointError } from '../io/engineErrors.ts';
import { openSafetensors, type SafetensorsFile } from '../io/safetensors.ts';
import type { TextToImageJob } from '../job.ts';
import { encodeWorkloads } from '../pipeline/encodePrompt.ts';
import { LoadedCheckpoint } from '../runtime/loadedCheckpoint.ts';
import { LoraError } from './loraErrors.ts';
import { CHECKPOINT, config, LORA_A, LORA_B, LORA_C, LORA_CASE_FILE, loraSection, TOL, worst } from './testing/loraGolden.ts';

let dir: string;
let cases: SafetensorsFile;

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'lora-variants-'));
  cases = openSafetensors(LORA_CASE_FILE);
});
afterAll(() => {
  cases.close();
  rmSync(dir, { recursive: true, force: true });
});

const load = (cacheDir: string, maxLoadedVariants?: number) =>
  LoadedCheckpoint.load(CHECKPOINT, { cacheDir, compute: 'float32', session: { providers: ['cpu'] }, maxLoadedVariants });

describe('LoRA variants against the golden LoRA case (CPU float32 graphs)', () => {
  let base: LoadedCheckpoint;
  beforeAll(async () => {
    base = await load(join(dir, 'golden'), 5);
  });
  afterAll(() => base.close());

  const tensor = (name: string) => ({ data: cases.float32(name), dims: cases.info(name).shape });

  it.each(['base', 'a07', 'a_m1', 'a07_b05', 'b10', 'c10'])('%s: unet.eps, clip.context and clip.pooled within the golden tolerances', async (name) => {
    const model = name === 'base' ? base : await base.withLoras(config(name).requests);
    const eps = await model.unet(tensor('unet.x'), cases.float32('unet.t'), tensor('unet.context'), tensor('unet.y'));
    const cond = await encodeWorkloads(model, [loraSection.prompt], { clipSkip: loraSection.clip_skip });
    for (const [label, got, tol] of [['unet.eps', eps, TOL.eps], ['clip.context', cond.context, TOL.text], ['clip.pooled', cond.pooled, TOL.text]] as const) {
      const w = worst(got, cases.float32(`${name}.${label}`), tol);
      expect(w.excess, `${name}.${label}: max abs ${w.maxAbs}`).toBeLessThanOrEqual(0);
    }
  });

  it('the LoRAs change the outputs (the comparison above is not vacuous)', async () => {
    const w = worst(cases.float32('a07.unet.eps'), cases.float32('base.unet.eps'), TOL.eps);
    expect(w.excess).toBeGreaterThan(0);
  });

  it('a UNet-only LoRA builds only UNet graphs and borrows the text encoders and VAE sessions', async () => {
    const b10 = await base.withLoras(config('b10').requests);
    expect(b10.lora?.report.graphs).toEqual(['unet']);
    expect(await b10.session('clip_l')).toBe(await base.session('clip_l'));
    expect(await b10.session('vae_decoder')).toBe(await base.session('vae_decoder'));
    expect(await b10.session('unet')).not.toBe(await base.session('unet'));
  });

  it('a skipped file (c10) changes nothing: every session is the checkpoint\'s', async () => {
    const c10 = await base.withLoras(config('c10').requests);
    expect(c10.lora?.report.files[0].status).toBe('skipped_mismatch');
    expect(await c10.session('unet')).toBe(await base.session('unet'));
  });

  it('an empty list or all-zero weights give the checkpoint itself', async () => {
    expect(await base.withLoras([])).toBe(base);
    expect(await base.withLoras([{ path: LORA_A, weight: 0 }])).toBe(base);
  });
});

describe('the variant LRU', () => {
  it('keeps maxLoadedVariants sets; the same set in another order is the same variant; an evicted set comes back without merging or rebuilding', async () => {
    const cacheDir = join(dir, 'lru');
    const base = await load(cacheDir, 2);
    try {
      const a = await base.withLoras([{ path: LORA_A, weight: 0.7 }, { path: LORA_B, weight: 0.5 }]);
      await a.warm();
      expect(a.lora?.merged).toBe(true);
      expect([...a.builtGraphs].sort()).toEqual(['clip_g', 'clip_l', 'unet']);
      expect(await base.withLoras([{ path: LORA_B, weight: 0.5 }, { path: LORA_A, weight: 0.7 }])).toBe(a);

      const b = await base.withLoras([{ path: LORA_B, weight: 1 }]);
      await b.warm();
      await base.withLoras([{ path: LORA_A, weight: 0.7 }, { path: LORA_B, weight: 0.5 }]); // a is now the most recent
      const c = await base.withLoras([{ path: LORA_A, weight: -1 }]); // evicts b
      expect(c).not.toBe(b);
      expect(await base.withLoras([{ path: LORA_A, weight: 0.7 }, { path: LORA_B, weight: 0.5 }])).toBe(a);

      const b2 = await base.withLoras([{ path: LORA_B, weight: 1 }]); // reopened after eviction
      expect(b2).not.toBe(b);
      await b2.warm();
      expect(b2.lora?.merged).toBe(false);
      expect(b2.builtGraphs).toEqual([]);

      // A fresh process (new LoadedCheckpoint, same cache) reuses shard and graphs too.
      const other = await load(cacheDir, 2);
      try {
        const again = await other.withLoras([{ path: LORA_A, weight: 0.7 }, { path: LORA_B, weight: 0.5 }]);
        await again.warm();
        expect(again.lora?.merged).toBe(false);
        expect(again.builtGraphs).toEqual([]);
      } finally {
        await other.close();
      }
    } finally {
      await base.close();
    }
  });

  it('a missing LoRA file is a LoraError (a CheckpointError, not_found) naming it', async () => {
    const base = await load(join(dir, 'missing'));
    try {
      const missing = join(dir, 'gone.safetensors');
      const e = await base.withLoras([{ path: LORA_A, weight: 1 }, { path: missing, weight: 0.5 }]).catch((x: unknown) => x);
      expect(e).toBeInstanceOf(LoraError);
      expect(e).toBeInstanceOf(CheckpointError);
      expect((e as CheckpointError).reason).toBe('not_found');
      expect((e as Error).message).toContain(missing);
    } finally {
      await base.close();
    }
  });
});

describe('Engine with TextToImageJob.loras', () => {
  let engine: Engine;
  const job = (over: Partial<TextToImageJob> = {}): TextToImageJob => ({
    checkpoint: CHECKPOINT, positive: ['a red fox in the snow'], negative: [''], width: 64, height: 64, steps: 2,
    sampler: 'euler', scheduler: 'karras', cfg: 4, seeds: [5n], ...over,
  });
  beforeAll(() => {
    engine = new Engine({ cacheDir: join(dir, 'engine'), maxLoadedVariants: 1 });
  });
  afterAll(() => engine.close());

  it('selects the variant: the image changes with the LoRA, and a skipped LoRA leaves it as without', async () => {
    const [plain] = await engine.generate(job());
    const [withA] = await engine.generate(job({ loras: [{ path: LORA_A, weight: 1 }] }));
    const [withC] = await engine.generate(job({ loras: [{ path: LORA_C, weight: 1 }] }));
    const [plainAgain] = await engine.generate(job({ loras: [] }));
    expect(Buffer.from(withA.data).equals(Buffer.from(plain.data))).toBe(false);
    expect(Buffer.from(withC.data).equals(Buffer.from(plain.data))).toBe(true);
    expect(Buffer.from(plainAgain.data).equals(Buffer.from(plain.data))).toBe(true);
  });

  it('loadWithLoras returns the warmed variant with its report', async () => {
    const model = await engine.loadWithLoras(CHECKPOINT, [{ path: LORA_B, weight: 0.5 }]);
    expect(model.lora?.report.files[0]).toMatchObject({ status: 'applied', patched: { unet: 100, clip: 0 } });
    expect(await engine.loadWithLoras(CHECKPOINT, [{ path: LORA_B, weight: 0.5 }])).toBe(model);
  });

  it('a first job with a UNet LoRA never opens the base UNet (one UNet in memory, not two); a later plain job opens it', async () => {
    const fresh = new Engine({ cacheDir: join(dir, 'engine'), maxLoadedVariants: 1 });
    try {
      const [withB] = await fresh.generate(job({ loras: [{ path: LORA_B, weight: 1 }] }));
      const base = await fresh.load(CHECKPOINT);
      const variant = await fresh.loadWithLoras(CHECKPOINT, [{ path: LORA_B, weight: 1 }]);
      expect(variant).not.toBe(base);
      expect(variant.openGraphs).toEqual(['unet']);
      expect(base.openGraphs.sort()).toEqual(['clip_g', 'clip_l', 'vae_decoder']);
      const [plain] = await fresh.generate(job());
      expect(base.openGraphs).toContain('unet');
      expect(Buffer.from(withB.data).equals(Buffer.from(plain.data))).toBe(false);
    } finally {
      await fresh.close();
    }
  });

  it('fails a job whose LoRA file is missing with a not_found CheckpointError', async () => {
    const e = await engine.generate(job({ loras: [{ path: join(dir, 'absent.safetensors'), weight: 1 }] })).catch((x: unknown) => x);
    expect(e).toBeInstanceOf(CheckpointError);
    expect((e as CheckpointError).reason).toBe('not_found');
  });
});
