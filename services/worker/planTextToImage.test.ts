import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseCommonRequest } from '../core/request/commonRequest.ts';
import type { GenerationJob } from '../core/request/generationJob.ts';
import { normaliseRequest } from '../core/request/normaliseRequest.ts';
import type { JsonObject } from '../core/task/taskRecord.ts';
import { CheckpointError, EngineInputError } from '../engine/io/engineErrors.ts';
import { planTextToImage } from './planTextToImage.ts';
import { applyArrays, applyWildcards } from './promptWildcards.ts';
import { readGenerationJob } from './readGenerationJob.ts';
import { classifyFailure } from './taskFailure.ts';
import { PythonRandom } from '../core/styles/pythonRandom.ts';

let modelsDir: string;

function job(body: Record<string, unknown>): GenerationJob {
  return normaliseRequest(parseCommonRequest({ base_model_name: 'tiny.safetensors', image_seed: 1000, ...body }), { random: () => 7n });
}

async function failureOf(promise: Promise<unknown>) {
  const err = await promise.then(
    () => null,
    (e: unknown) => e,
  );
  expect(err, 'expected a rejection').not.toBeNull();
  return classifyFailure(err);
}

beforeAll(() => {
  modelsDir = mkdtempSync(join(tmpdir(), 'fooocus-plan-'));
  mkdirSync(join(modelsDir, 'checkpoints'), { recursive: true });
  mkdirSync(join(modelsDir, 'loras'), { recursive: true });
  writeFileSync(join(modelsDir, 'checkpoints', 'tiny.safetensors'), 'x');
  writeFileSync(join(modelsDir, 'loras', 'present.safetensors'), 'x');
});
afterAll(() => rmSync(modelsDir, { recursive: true, force: true }));

describe('planTextToImage', () => {
  it('the default FooocusAPI request runs as text-to-image: styles applied per image, one seed per engine job, expansion noted', async () => {
    const plan = await planTextToImage(job({ prompt: 'a red fox', negative_prompt: 'blurry', image_number: 2 }), { modelsDir });
    expect(plan.checkpoint).toBe(join(modelsDir, 'checkpoints', 'tiny.safetensors'));
    expect(plan.images.map((i) => i.seed)).toEqual([1000n, 1001n]);
    const first = plan.images[0];
    expect(first.job.seeds).toEqual([1000n]);
    expect(first.styles).toEqual(['Fooocus Enhance', 'Fooocus Sharp']);
    expect(first.job.positive[0]).toContain('a red fox');
    expect(first.job.negative.at(-1)).toBe('blurry'); // user negative last
    expect(first.job.positiveTopK).toBe(first.job.positive.length);
    expect(first.job).toMatchObject({ width: 1152, height: 896, steps: 30, sampler: 'dpmpp_2m_sde_gpu', scheduler: 'karras', format: 'png', previews: true });
    expect(plan.notes).toEqual([
      // FooocusAPI's default LoRA slot 1; absent from this models folder, so skipped.
      "LoRA 'sd_xl_offset_example-lora_1.0.safetensors' not found in the loras folder: skipped (as Fooocus does)",
      'Fooocus V2 prompt expansion is not implemented yet: the prompt runs unexpanded',
    ]);
  });

  it('LoRA tags leave the prompt; absent LoRA files are skipped with a note; an existing LoRA fails: merging is not supported yet', async () => {
    const plan = await planTextToImage(
      job({ prompt: 'a fox <lora:absent:0.5>, forest', style_selections: [], loras: [{ enabled: true, model_name: 'gone.safetensors', weight: 1 }] }),
      { modelsDir },
    );
    expect(plan.images[0].job.positive).toEqual(['a fox, forest']);
    expect(plan.notes).toEqual([expect.stringContaining("LoRA 'gone.safetensors' not found")]);

    for (const body of [
      { prompt: 'a fox <lora:present:0.7>' },
      { prompt: 'a fox', loras: [{ enabled: true, model_name: 'present.safetensors', weight: 0.7 }] },
    ]) {
      const failure = await failureOf(planTextToImage(job(body), { modelsDir }));
      expect(failure).toEqual({ kind: 'unrecoverable', error: { code: 'invalid_input', message: 'LoRA merging is not supported yet: present.safetensors' } });
    }
  });

  it('image features, refiner, custom VAE, FreeU and speed LoRA modes fail with invalid_input naming the feature', async () => {
    const png = 'data:image/png;base64,iVBORw0KGgo=';
    const cases: [Record<string, unknown>, RegExp][] = [
      [{ uov_input_image: png, uov_method: 'Upscale (2x)' }, /^Upscale \(2x\) is not supported yet/],
      [{ inpaint_input_image: png }, /^Inpaint\/outpaint is not supported yet/],
      [{ controlnet_image: [{ cn_img: png, cn_type: 'PyraCanny' }] }, /^Image prompt \(PyraCanny\) is not supported yet/],
      [{ enhance_input_image: png }, /^Enhance is not supported yet/],
      [{ refiner_model_name: 'refiner.safetensors' }, /^Refiner is not supported yet: refiner.safetensors/],
      [{ vae_name: 'sdxl_vae.safetensors' }, /^Custom VAE is not supported yet/],
      [{ freeu_enabled: true }, /^FreeU is not supported yet/],
      [{ performance_selection: 'Lightning' }, /^LoRA merging is not supported yet: .*lightning.*performance 'Lightning'/i],
    ];
    for (const [body, message] of cases) {
      const failure = await failureOf(planTextToImage(job(body), { modelsDir }));
      expect(failure.kind, JSON.stringify(body)).toBe('unrecoverable');
      if (failure.kind === 'unrecoverable') {
        expect(failure.error.code).toBe('invalid_input');
        expect(failure.error.message).toMatch(message);
      }
    }
    // A tab without its image is plain text-to-image, as in Fooocus.
    await expect(planTextToImage(job({ current_tab: 'uov', uov_method: 'Vary (Subtle)' }), { modelsDir })).resolves.toBeTruthy();
  });

  it('an unknown checkpoint is model_missing and names the file', async () => {
    const failure = await failureOf(planTextToImage(job({ base_model_name: 'nope.safetensors' }), { modelsDir }));
    expect(failure).toMatchObject({ kind: 'unrecoverable', error: { code: 'model_missing' } });
    if (failure.kind === 'unrecoverable') expect(failure.error.message).toContain('nope.safetensors');
  });

  it('"Random Style" is drawn per image from random.Random(image seed); arrays pick by image index', async () => {
    const a = await planTextToImage(job({ prompt: 'a [[red,blue]] fox', style_selections: ['Random Style'], image_number: 3 }), { modelsDir });
    const b = await planTextToImage(job({ prompt: 'a [[red,blue]] fox', style_selections: ['Random Style'], image_number: 3 }), { modelsDir });
    expect(a.images.map((i) => i.styles)).toEqual(b.images.map((i) => i.styles));
    expect(new Set(a.images.map((i) => i.styles[0])).size).toBeGreaterThan(1);
    expect(a.images[0].styles[0]).not.toBe('Random Style');
    expect(a.images.map((i) => i.job.positive.join('|'))).toEqual([
      expect.stringContaining('a red fox'),
      expect.stringContaining('a  blue fox'), // Fooocus cleans the prompt before arrays: "[[red, blue]]"
      expect.stringContaining('a red fox'),
    ]);
  });
});

describe('prompt wildcards and arrays (Fooocus apply_wildcards / apply_arrays)', () => {
  it('a wildcard without a word list becomes its name; with a list it draws from the rng or in order', () => {
    const rng = new PythonRandom(1n);
    expect(applyWildcards('a __color__ __color__ cat', rng, 0, false)).toBe('a color color cat');
    const words = (name: string) => (name === 'color' ? ['red', 'green', 'blue'] : null);
    expect(applyWildcards('__color__ and __color__', new PythonRandom(1n), 4, true, words)).toBe('green and green');
    const drawn = applyWildcards('__color__', new PythonRandom(5n), 0, false, words);
    expect(drawn).toBe(new PythonRandom(5n).choice(['red', 'green', 'blue']));
  });

  it('arrays combine mixed-radix over the image index', () => {
    expect([0, 1, 2, 3].map((i) => applyArrays('[[a,b]] [[x,y]]', i))).toEqual(['a x', 'b x', 'a y', 'b y']);
  });
});

describe('readGenerationJob and failure classes', () => {
  it('accepts the stored job (or {job}) and rejects rows that are not a job with invalid_input', () => {
    const j = job({ prompt: 'x' });
    const stored = JSON.parse(JSON.stringify(j)) as JsonObject;
    expect(readGenerationJob(stored).baseModel).toBe('tiny.safetensors');
    expect(readGenerationJob({ job: stored }).imageSeeds).toEqual(['1000']);
    const failure = classifyFailure((() => { try { readGenerationJob({ prompt: 'x' }); } catch (e) { return e; } })());
    expect(failure).toMatchObject({ kind: 'unrecoverable', error: { code: 'invalid_input' } });
  });

  it('engine input and checkpoint errors are the task’s fault; anything else is transient', () => {
    expect(classifyFailure(new EngineInputError('unknown sampler x'))).toMatchObject({ error: { code: 'invalid_input' } });
    const missing = new CheckpointError('/models/checkpoints/a.safetensors', 'not_found', 'no such file');
    expect(classifyFailure(missing, new Map([['/models/checkpoints/a.safetensors', 'a.safetensors']]))).toEqual({
      kind: 'unrecoverable',
      error: { code: 'model_missing', message: 'a.safetensors: not found: no such file' },
    });
    expect(classifyFailure(new CheckpointError('/m/a.safetensors', 'truncated', 'short'))).toMatchObject({ error: { code: 'invalid_input' } });
    expect(classifyFailure(new Error('socket hang up'))).toEqual({ kind: 'transient', message: 'socket hang up' });
  });
});
