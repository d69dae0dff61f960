import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { parseCommonRequest } from '../core/request/commonRequest.ts';
import type { GenerationJob } from '../core/request/generationJob.ts';
import { normaliseRequest } from '../core/request/normaliseRequest.ts';
import type { JsonObject } from '../core/task/taskRecord.ts';
import { buildImageMetadata } from '../engine/image/metadata/generationMetadata.ts';
import { CheckpointError, EngineInputError } from '../engine/io/engineErrors.ts';
import { PythonRandom } from '../shared/pythonRandom.ts';
import { imageParameters } from './imageMetadata.ts';
import { planTextToImage, type PlanOptions } from './planTextToImage.ts';
import { readGenerationJob } from './readGenerationJob.ts';
import { classifyFailure } from './taskFailure.ts';

/** A models folder with every file a full request can name (contents are placeholders: the planner only checks and hashes them). */
let modelsDir: string;
/** The same without the expansion folder and the performance LoRAs. */
let bareModelsDir: string;
let wildcardsDir: string;
let root: string;

const EXPANSION_FILES = ['config.json', 'pytorch_model.bin', 'vocab.json', 'merges.txt', 'positive.txt'];

function job(body: Record<string, unknown>): GenerationJob {
  return normaliseRequest(parseCommonRequest({ base_model_name: 'tiny.safetensors', image_seed: 1000, ...body }), { random: () => 7n });
}

/** A request without FooocusAPI's default LoRA and "Fooocus V2", for the cases about something else. */
function plain(body: Record<string, unknown>): GenerationJob {
  return job({ style_selections: [], loras: [], ...body });
}

async function failureOf(promise: Promise<unknown>) {
  const err = await promise.then(
    () => null,
    (e: unknown) => e,
  );
  expect(err, 'expected a rejection').not.toBeNull();
  return classifyFailure(err);
}

function write(path: string, text = 'x'): void {
  mkdirSync(join(path, '..'), { recursive: true });
  writeFileSync(path, text);
}

beforeAll(() => {
  root = mkdtempSync(join(tmpdir(), 'fooocus-plan-'));
  modelsDir = join(root, 'models');
  bareModelsDir = join(root, 'bare-models');
  wildcardsDir = join(root, 'wildcards');
  for (const dir of [modelsDir, bareModelsDir]) {
    write(join(dir, 'checkpoints', 'tiny.safetensors'), 'checkpoint');
    write(join(dir, 'loras', 'present.safetensors'), 'lora');
    write(join(dir, 'loras', 'sd_xl_offset_example-lora_1.0.safetensors'), 'offset');
  }
  write(join(modelsDir, 'checkpoints', 'refiner.safetensors'), 'refiner');
  write(join(modelsDir, 'vae', 'sdxl_vae.safetensors'), 'vae');
  write(join(modelsDir, 'loras', 'sub', 'nested.safetensors'), 'nested');
  for (const name of ['sdxl_lcm_lora.safetensors', 'sdxl_lightning_4step_lora.safetensors', 'sdxl_hyper_sd_4step_lora.safetensors']) {
    write(join(modelsDir, 'loras', name), name);
  }
  for (const name of EXPANSION_FILES) write(join(modelsDir, 'prompt_expansion', 'fooocus_expansion', name));
  write(join(wildcardsDir, 'color.txt'), 'red\ngreen\n\nblue\n');
  write(join(wildcardsDir, 'animal.txt'), '__color__ fox\n');
});
afterAll(() => rmSync(root, { recursive: true, force: true }));

const options = (over: Partial<PlanOptions> = {}): PlanOptions => ({ modelsDir, wildcardsDir, ...over });

describe('planTextToImage', () => {
  it('the default FooocusAPI request: offset LoRA merged, Fooocus V2 expansion asked of the engine, styles per image, one seed per engine job', async () => {
    const plan = await planTextToImage(job({ prompt: 'a red fox', negative_prompt: 'blurry', image_number: 2 }), options());
    expect(plan.checkpoint).toBe(join(modelsDir, 'checkpoints', 'tiny.safetensors'));
    expect(plan.images.map((i) => i.seed)).toEqual([1000n, 1001n]);
    expect(plan.notes).toEqual([]);
    const first = plan.images[0];
    expect(first.job.seeds).toEqual([1000n]);
    expect(first.styles).toEqual(['Fooocus Enhance', 'Fooocus Sharp']);
    expect(first.job.positive[0]).toContain('a red fox');
    expect(first.job.negative.at(-1)).toBe('blurry'); // user negative last
    expect(first.job.positiveTopK).toBe(first.job.positive.length);
    expect(first.job).toMatchObject({ width: 1152, height: 896, steps: 30, sampler: 'dpmpp_2m_sde_gpu', scheduler: 'karras', cfg: 4, format: 'png', previews: true, clipSkip: 2 });
    expect(first.job.adm).toEqual({ positive: 1.5, negative: 0.8, end: 0.3 });
    expect(first.job.loras).toEqual([{ path: join(modelsDir, 'loras', 'sd_xl_offset_example-lora_1.0.safetensors'), weight: 0.1 }]);
    // The expansion: the image's prompt line, appended by the engine after the top-k.
    expect(first.job.expansionFolder).toBe(join(modelsDir, 'prompt_expansion', 'fooocus_expansion'));
    expect(first.job.perImagePrompts).toEqual([
      { positive: first.job.positive, negative: first.job.negative, positiveTopK: first.job.positiveTopK, negativeTopK: first.job.negativeTopK, expansionSource: 'a red fox' },
    ]);
    expect(first.job.refiner).toBeUndefined();
    expect(first.job.vae).toBeUndefined();
    expect(first.job.freeu).toBeUndefined();
    expect(first.job.blackOutNsfw).toBeUndefined();
    expect(plan.pathNames.get(join(modelsDir, 'loras', 'sd_xl_offset_example-lora_1.0.safetensors'))).toBe('sd_xl_offset_example-lora_1.0.safetensors');
  });

  it('"Fooocus V2" without the expansion folder fails the task naming the folder to fill; an empty prompt does not expand', async () => {
    const failure = await failureOf(planTextToImage(job({ prompt: 'a red fox' }), options({ modelsDir: bareModelsDir })));
    expect(failure).toMatchObject({ kind: 'unrecoverable', error: { code: 'model_missing' } });
    if (failure.kind === 'unrecoverable') {
      expect(failure.error.message).toContain('prompt_expansion/fooocus_expansion/');
      expect(failure.error.message).toContain('config.json');
      expect(failure.error.message).toContain('Fooocus V2');
      expect(failure.error.message).not.toContain(bareModelsDir);
    }
    const empty = await planTextToImage(job({ prompt: '' }), options({ modelsDir: bareModelsDir }));
    expect(empty.images[0].job.perImagePrompts).toBeUndefined();
    expect(empty.images[0].job.expansionFolder).toBeUndefined();
  });

  it('LoRAs: request slots then prompt tags (matched by stem, removed from the prompt), then the performance LoRA', async () => {
    const plan = await planTextToImage(
      plain({
        prompt: 'a fox <lora:nested:-0.5>, forest',
        loras: [{ enabled: true, model_name: 'present.safetensors', weight: 0.7 }],
      }),
      options(),
    );
    expect(plan.images[0].job.positive).toEqual(['a fox, forest']);
    expect(plan.images[0].job.loras).toEqual([
      { path: join(modelsDir, 'loras', 'present.safetensors'), weight: 0.7 },
      { path: join(modelsDir, 'loras', 'sub', 'nested.safetensors'), weight: -0.5 },
    ]);
    expect(plan.images[0].metadata?.loras.map((l) => [l.name, l.weight])).toEqual([
      ['present.safetensors', 0.7],
      ['sub/nested.safetensors', -0.5],
    ]);
  });

  it('a missing LoRA file fails the task (model_missing) naming the file and the loras folder', async () => {
    for (const [body, name] of [
      [{ loras: [{ enabled: true, model_name: 'gone.safetensors', weight: 1 }] }, 'gone.safetensors'],
      [{ prompt: 'a fox <lora:absent:0.5>' }, 'absent'],
    ] as const) {
      const failure = await failureOf(planTextToImage(plain({ prompt: 'a fox', ...body }), options()));
      expect(failure).toMatchObject({ kind: 'unrecoverable', error: { code: 'model_missing' } });
      if (failure.kind === 'unrecoverable') {
        expect(failure.error.message).toContain(`'${name}'`);
        expect(failure.error.message).toContain('loras folder');
        expect(failure.error.message).not.toContain(modelsDir);
      }
    }
    const heavy = await failureOf(planTextToImage(plain({ prompt: 'a fox <lora:present:3>' }), options()));
    expect(heavy).toMatchObject({ kind: 'unrecoverable', error: { code: 'invalid_input', message: expect.stringContaining('outside -2..2') } });
  });

  it('performance modes: forced values from core, the performance LoRA last; a missing one names the file to place', async () => {
    const cases = [
      ['Extreme Speed', 8, 'lcm', 'lcm', 'sdxl_lcm_lora.safetensors', 1],
      ['Lightning', 4, 'euler', 'sgm_uniform', 'sdxl_lightning_4step_lora.safetensors', 1],
      ['Hyper-SD', 4, 'dpmpp_sde_gpu', 'karras', 'sdxl_hyper_sd_4step_lora.safetensors', 0.8],
    ] as const;
    for (const [performance, steps, sampler, scheduler, lora, weight] of cases) {
      const plan = await planTextToImage(job({ prompt: 'a fox', performance_selection: performance, refiner_model_name: 'refiner.safetensors' }), options());
      const j = plan.images[0].job;
      expect(j, performance).toMatchObject({ steps, sampler, scheduler, cfg: 1, sharpness: 0, adaptiveCfg: 1, adm: { positive: 1, negative: 1, end: 0 } });
      expect(j.refiner, performance).toBeUndefined(); // forced None
      expect(j.loras?.at(-1)).toEqual({ path: join(modelsDir, 'loras', lora), weight });
      expect(plan.images[0].metadata).toMatchObject({ performance, steps, sampler, scheduler, guidanceScale: 1 });

      const failure = await failureOf(planTextToImage(job({ prompt: 'a fox', performance_selection: performance }), options({ modelsDir: bareModelsDir })));
      expect(failure).toMatchObject({ kind: 'unrecoverable', error: { code: 'model_missing' } });
      if (failure.kind === 'unrecoverable') {
        expect(failure.error.message).toContain(`'${lora}'`);
        expect(failure.error.message).toContain(`performance '${performance}'`);
      }
    }
    const quality = await planTextToImage(plain({ prompt: 'a fox', performance_selection: 'Quality', overwrite_step: 3 }), options({ modelsDir: bareModelsDir }));
    expect(quality.images[0].job).toMatchObject({ steps: 3, sampler: 'dpmpp_2m_sde_gpu', scheduler: 'karras', cfg: 4 });
    expect(quality.images[0].job.loras).toBeUndefined();
  });

  it('refiner, VAE override, FreeU, ADM scalers, clip skip and black_out_nsfw reach the engine job', async () => {
    const plan = await planTextToImage(
      plain({
        prompt: 'a fox',
        refiner_model_name: 'refiner.safetensors',
        refiner_switch: 0.5,
        refiner_swap_method: 'separate',
        overwrite_step: 20,
        vae_name: 'sdxl_vae.safetensors',
        freeu_enabled: true,
        freeu_b1: 1.1,
        freeu_b2: 1.2,
        freeu_s1: 0.9,
        freeu_s2: 0.2,
        adm_scaler_positive: 1.2,
        adm_scaler_negative: 0.9,
        adm_scaler_end: 0.4,
        clip_skip: 3,
      }),
      options(),
    );
    const j = plan.images[0].job;
    expect(j.refiner).toEqual({ checkpoint: join(modelsDir, 'checkpoints', 'refiner.safetensors'), switchStep: 15, swapMethod: 'separate' }); // round(30 × 0.5)
    expect(j.vae).toBe(join(modelsDir, 'vae', 'sdxl_vae.safetensors'));
    expect(j.freeu).toEqual({ b1: 1.1, b2: 1.2, s1: 0.9, s2: 0.2 });
    expect(j.adm).toEqual({ positive: 1.2, negative: 0.9, end: 0.4 });
    expect(j.clipSkip).toBe(3);
    expect(plan.images[0].metadata).toMatchObject({ refinerModel: { name: 'refiner.safetensors' }, refinerSwitch: 0.5, refinerSwapMethod: 'separate', vae: 'sdxl_vae.safetensors', freeu: { b1: 1.1 } });

    // overwrite_step below Fooocus' switch step: clamped, the refiner does not run.
    const clamped = await planTextToImage(plain({ prompt: 'a fox', refiner_model_name: 'refiner.safetensors', overwrite_step: 4 }), options());
    expect(clamped.images[0].job.refiner?.switchStep).toBe(4);
    expect(clamped.notes).toEqual([expect.stringContaining('refiner switch step')]);

    const missing: [Record<string, unknown>, string][] = [
      [{ refiner_model_name: 'nope-refiner.safetensors' }, "refiner model 'nope-refiner.safetensors' not found in the checkpoints folder"],
      [{ vae_name: 'nope-vae.safetensors' }, "VAE 'nope-vae.safetensors' not found in the vae folder"],
      [{ black_out_nsfw: true }, 'black_out_nsfw needs an ONNX NSFW classifier at safety_checker/model.onnx'],
    ];
    for (const [body, message] of missing) {
      const failure = await failureOf(planTextToImage(plain({ prompt: 'a fox', ...body }), options()));
      expect(failure, JSON.stringify(body)).toMatchObject({ kind: 'unrecoverable', error: { code: 'model_missing', message: expect.stringContaining(message) } });
    }
    write(join(modelsDir, 'safety_checker', 'model.onnx'));
    try {
      const nsfw = await planTextToImage(plain({ prompt: 'a fox', black_out_nsfw: true }), options());
      expect(nsfw.images[0].job.blackOutNsfw).toEqual({ modelPath: join(modelsDir, 'safety_checker', 'model.onnx') });
    } finally {
      rmSync(join(modelsDir, 'safety_checker'), { recursive: true });
    }
  });

  it('image features and the refiner swap method vae fail with invalid_input naming the feature', async () => {
    const png = 'data:image/png;base64,iVBORw0KGgo=';
    const cases: [Record<string, unknown>, RegExp][] = [
      [{ inpaint_input_image: png, controlnet_image: [{ cn_img: png, cn_type: 'FaceSwap' }], mixing_image_prompt_and_inpaint: true }, /^Image prompt type FaceSwap \(controlnet_image\.0\) is not supported yet/],
      [{ controlnet_image: [{ cn_img: png, cn_type: 'PyraCanny' }, { cn_img: png, cn_type: 'FaceSwap' }] }, /^Image prompt type FaceSwap \(controlnet_image\.1\) is not supported yet.*facexlib/],
      [{ enhance_input_image: png }, /^Enhance is not supported yet/],
      [{ refiner_model_name: 'refiner.safetensors', refiner_swap_method: 'vae' }, /^Refiner swap method 'vae' is not supported yet/],
    ];
    for (const [body, message] of cases) {
      const failure = await failureOf(planTextToImage(plain(body), options()));
      expect(failure.kind, JSON.stringify(body)).toBe('unrecoverable');
      if (failure.kind === 'unrecoverable') {
        expect(failure.error.code).toBe('invalid_input');
        expect(failure.error.message).toMatch(message);
      }
    }
    // A tab without its image is plain text-to-image, as in Fooocus; so is 'vae' without a refiner.
    await expect(planTextToImage(plain({ current_tab: 'uov', uov_method: 'Vary (Subtle)' }), options())).resolves.toBeTruthy();
    await expect(planTextToImage(plain({ refiner_swap_method: 'vae' }), options())).resolves.toBeTruthy();
  });

  it('an unknown checkpoint is model_missing and names the file', async () => {
    const failure = await failureOf(planTextToImage(plain({ base_model_name: 'nope.safetensors' }), options()));
    expect(failure).toMatchObject({ kind: 'unrecoverable', error: { code: 'model_missing' } });
    if (failure.kind === 'unrecoverable') expect(failure.error.message).toContain('nope.safetensors');
  });

  it('"Random Style" is drawn per image from random.Random(image seed); arrays pick by image index', async () => {
    const a = await planTextToImage(plain({ prompt: 'a [[red,blue]] fox', style_selections: ['Random Style'], image_number: 3 }), options());
    const b = await planTextToImage(plain({ prompt: 'a [[red,blue]] fox', style_selections: ['Random Style'], image_number: 3 }), options());
    expect(a.images.map((i) => i.styles)).toEqual(b.images.map((i) => i.styles));
    expect(new Set(a.images.map((i) => i.styles[0])).size).toBeGreaterThan(1);
    expect(a.images[0].styles[0]).not.toBe('Random Style');
    expect(a.images.map((i) => i.job.positive.join('|'))).toEqual([
      expect.stringContaining('a red fox'),
      expect.stringContaining('a  blue fox'), // Fooocus cleans the prompt before arrays: "[[red, blue]]"
      expect.stringContaining('a red fox'),
    ]);
  });

  it('wildcards come from the wildcards folder: random lines from random.Random(seed), nested lists, in order; the expansion gets the resolved prompt', async () => {
    const random = await planTextToImage(job({ prompt: 'a __animal__', style_selections: ['Fooocus V2'], image_number: 2 }), options());
    for (const image of random.images) {
      const rng = new PythonRandom(image.seed);
      rng.choice(['__color__ fox']); // breadth first: animal.txt's line, then the color it names
      const color = rng.choice(['red', 'green', 'blue']);
      expect(image.job.positive).toEqual([`a ${color} fox`]);
      expect(image.job.perImagePrompts?.[0].expansionSource).toBe(`a ${color} fox`);
      expect(image.metadata?.prompt).toBe(`a ${color} fox`);
    }
    const ordered = await planTextToImage(plain({ prompt: '__color__ cat', read_wildcards_in_order: true, image_number: 4 }), options());
    expect(ordered.images.map((i) => i.job.positive[0])).toEqual(['red cat', 'green cat', 'blue cat', 'red cat']);
    // No list of that name: the bare name, as Fooocus.
    const unknown = await planTextToImage(plain({ prompt: '__nothing__ here' }), options());
    expect(unknown.images[0].job.positive).toEqual(['nothing here']);
  });

  it('metadata: the real parameters per image, the engine’s expansion and workloads filled in; none when save_metadata_to_images is off', async () => {
    const plan = await planTextToImage(job({ prompt: 'a fox', performance_selection: 'Lightning', metadata_scheme: 'a1111' }), options());
    const planned = plan.images[0].metadata!;
    expect(planned.baseModel).toEqual({ name: 'tiny.safetensors', sha256: expect.stringMatching(/^[0-9a-f]{64}$/) });
    expect(planned.loras.map((l) => [l.name, l.weight])).toEqual([
      ['sd_xl_offset_example-lora_1.0.safetensors', 0.1],
      ['sdxl_lightning_4step_lora.safetensors', 1],
    ]);
    const params = imageParameters(planned, { expansion: 'a fox, bright', positive: [...plan.images[0].job.positive, 'a fox, bright'] });
    expect(params).toMatchObject({ promptExpansion: 'a fox, bright', usedExpansion: true, seed: 1000n, steps: 4, sampler: 'euler', scheduler: 'sgm_uniform' });
    const text = buildImageMetadata(params, 'a1111').parameters;
    expect(text).toContain('Steps: 4, Sampler: Euler, Seed: 1000');
    expect(text).toContain('Lora weights: "sd_xl_offset_example-lora_1.0: 0.1, sdxl_lightning_4step_lora: 1.0"');
    expect(text.split('\n')[0]).toContain('a fox, bright');

    const off = await planTextToImage(plain({ prompt: 'a fox', save_metadata_to_images: false }), options());
    expect(off.images[0].metadata).toBeNull();
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
