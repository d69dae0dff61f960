// End to end, Fooocus' text-to-image features through the FooocusAPI surface (embedded wiring:
// the real API, worker and engine on the tiny golden models, 128×128, few steps): each
// performance mode with its LoRA, LoRA stacking with a prompt tag, the refiner, the Fooocus V2
// expansion, wildcards and arrays, FreeU and a VAE override, both metadata schemes in png, jpeg
// and webp. Each output file is read back and its embedded metadata must show the parameters
// that were used. Missing model files fail the task with a message naming what to put where.
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { readImageMetadata, type ReadImageMetadataResult } from '../../services/engine/image/metadata/embedImageMetadata.ts';
import { PythonRandom } from '../../services/shared/pythonRandom.ts';
import { API_KEY, CHECKPOINT_NAME, DEFAULT_LORA_NAME, linkOrCopy, prepareModelsDir, SHARED, startApiService, type ApiService } from './apiService.ts';

const LORAS = join(SHARED, 'golden-features', 'loras');
const REFINER_NAME = 'tiny-sdxl-refiner.safetensors';
const PERFORMANCE_LORAS = ['sdxl_lcm_lora.safetensors', 'sdxl_lightning_4step_lora.safetensors', 'sdxl_hyper_sd_4step_lora.safetensors'];
const COLORS = ['red', 'green', 'blue'];

/** Small and fast, no default styles or LoRAs unless a case asks. */
const small = (over: Record<string, unknown> = {}) => ({
  prompt: 'a fox in the snow',
  negative_prompt: 'blurry',
  base_model_name: CHECKPOINT_NAME,
  style_selections: [],
  loras: [],
  overwrite_width: 128,
  overwrite_height: 128,
  overwrite_step: 3,
  image_seed: 4242,
  ...over,
});

let root: string;
let full: ApiService;
let bare: ApiService;

beforeAll(async () => {
  root = mkdtempSync(join(tmpdir(), 'fooocus-e2e-features-'));
  // Full models folder: the tiny checkpoint, refiner, LoRAs (also under the performance LoRA
  // names and FooocusAPI's default LoRA name), the tiny expansion folder, the checkpoint as a VAE.
  const models = prepareModelsDir(root);
  const { modelsDir, cacheDir } = models;
  linkOrCopy(join(SHARED, 'golden-features', REFINER_NAME), join(modelsDir, 'checkpoints', REFINER_NAME));
  for (const name of ['tiny-lora-kohya-r4.safetensors', 'tiny-locon-r8.safetensors', 'tiny-lora-mismatch.safetensors']) {
    linkOrCopy(join(LORAS, name), join(modelsDir, 'loras', name));
  }
  for (const name of PERFORMANCE_LORAS) linkOrCopy(join(LORAS, 'tiny-lora-kohya-r4.safetensors'), join(modelsDir, 'loras', name));
  mkdirSync(join(modelsDir, 'vae'), { recursive: true });
  linkOrCopy(join(SHARED, 'golden', CHECKPOINT_NAME), join(modelsDir, 'vae', 'tiny-vae.safetensors'));
  // Wildcards at the default place: `wildcards` beside MODELS_DIR.
  mkdirSync(join(root, 'wildcards', 'nested'), { recursive: true });
  writeFileSync(join(root, 'wildcards', 'color.txt'), `${COLORS.join('\n')}\n`);
  writeFileSync(join(root, 'wildcards', 'nested', 'animal.txt'), '__color__ fox\n__color__ owl\n');

  // Bare models folder: the checkpoint only (no expansion folder, no LoRAs); same graph cache.
  const bareModels = join(root, 'bare-models');
  mkdirSync(join(bareModels, 'checkpoints'), { recursive: true });
  linkOrCopy(join(SHARED, 'golden', CHECKPOINT_NAME), join(bareModels, 'checkpoints', CHECKPOINT_NAME));

  full = await startApiService('embedded', models);
  bare = await startApiService('embedded', { modelsDir: bareModels, cacheDir });
}, 300_000);
afterAll(async () => {
  await full?.stop();
  await bare?.stop();
  if (root) rmSync(root, { recursive: true, force: true });
});

const headers = { 'content-type': 'application/json', 'x-api-key': API_KEY };

async function generate(svc: ApiService, body: unknown): Promise<any> {
  const res = await fetch(`${svc.baseUrl}/v1/engine/generate/`, { method: 'POST', headers, body: JSON.stringify(body) });
  expect(res.status).toBe(200);
  return res.json();
}

interface Output {
  url: string;
  contentType: string | null;
  meta: ReadImageMetadataResult;
}

/** Runs the request (sync), expects it finished, and reads every output file's metadata back. */
async function run(body: Record<string, unknown>): Promise<{ rec: any; outputs: Output[] }> {
  const rec = await generate(full, body);
  expect(rec.task_status, JSON.stringify(rec.error ?? rec)).toBe('finished');
  const outputs: Output[] = [];
  for (const url of rec.result as string[]) {
    const res = await fetch(url);
    expect(res.status).toBe(200);
    const meta = readImageMetadata(new Uint8Array(await res.arrayBuffer()));
    expect(meta, url).not.toBeNull();
    outputs.push({ url, contentType: res.headers.get('content-type'), meta: meta! });
  }
  return { rec, outputs };
}

/** The fooocus scheme's JSON of an output. */
function fooocusJson(out: Output): Record<string, any> {
  expect(out.meta.scheme).toBe('fooocus');
  expect(out.meta.parameters).not.toBeNull();
  return JSON.parse(out.meta.parameters!);
}

/** The a1111 scheme's text: positive line, negative line, and the "Key: value" pairs. */
function a1111(out: Output): { positive: string; negative: string; params: string } {
  expect(out.meta.scheme).toBe('a1111');
  const text = out.meta.parameters!;
  const lines = text.split('\n');
  return { positive: lines[0], negative: lines[1], params: lines.slice(2).join('\n') };
}

describe('performance modes, with their LoRAs in place', () => {
  it('Speed (30 steps), fooocus scheme in png: steps, sampler, scheduler, cfg, seed and the model hash', async () => {
    const { outputs } = await run(small({ overwrite_step: -1, performance_selection: 'Speed' }));
    expect(outputs[0].contentType).toBe('image/png');
    expect(outputs[0].meta.source).toBe('png-text');
    const m = fooocusJson(outputs[0]);
    expect(m).toMatchObject({
      performance: 'Speed',
      steps: 30,
      sampler: 'dpmpp_2m_sde_gpu',
      scheduler: 'karras',
      guidance_scale: 4,
      sharpness: 2,
      adm_guidance: '(1.5, 0.8, 0.3)',
      seed: '4242',
      resolution: '(128, 128)',
      prompt: 'a fox in the snow',
      negative_prompt: 'blurry',
      full_prompt: ['a fox in the snow'],
      full_negative_prompt: ['blurry'],
      base_model: 'tiny-sdxl',
      refiner_model: 'None',
      vae: 'Default (model)',
      loras: [],
      metadata_scheme: 'fooocus',
      prompt_expansion: '',
    });
    expect(m.base_model_hash).toMatch(/^[0-9a-f]{10}$/);
  });

  it('Quality with overwrite_step, FreeU and a VAE override, a1111 scheme in jpeg', async () => {
    const { outputs } = await run(
      small({
        performance_selection: 'Quality',
        overwrite_step: 2,
        freeu_enabled: true,
        freeu_b1: 1.1,
        freeu_b2: 1.2,
        freeu_s1: 0.9,
        freeu_s2: 0.2,
        vae_name: 'tiny-vae.safetensors',
        metadata_scheme: 'a1111',
        output_format: 'jpeg',
      }),
    );
    expect(outputs[0].contentType).toBe('image/jpeg');
    expect(outputs[0].meta.format).toBe('jpeg');
    const { positive, negative, params } = a1111(outputs[0]);
    expect(positive).toBe('a fox in the snow');
    expect(negative).toBe('Negative prompt: blurry');
    expect(params).toMatch(/^Steps: 2, Sampler: DPM\+\+ 2M SDE Karras, Seed: 4242, Size: 128x128, CFG scale: 4\.0, Sharpness: 2\.0, /);
    expect(params).toContain('Model: tiny-sdxl, Model hash: ');
    expect(params).toContain('Performance: Quality, Scheduler: karras, VAE: tiny-vae');
    expect(params).toContain('FreeU: "(1.1, 1.2, 0.9, 0.2)"');
  });

  const fastModes = [
    ['Extreme Speed', 8, 'lcm', 'lcm', 'sdxl_lcm_lora', 1, 'png'],
    ['Lightning', 4, 'euler', 'sgm_uniform', 'sdxl_lightning_4step_lora', 1, 'webp'],
    ['Hyper-SD', 4, 'dpmpp_sde_gpu', 'karras', 'sdxl_hyper_sd_4step_lora', 0.8, 'jpeg'],
  ] as const;
  for (const [performance, steps, sampler, scheduler, lora, weight, format] of fastModes) {
    it(`${performance}: the forced steps, sampler, scheduler and cfg, and its LoRA (${format}, fooocus scheme)`, async () => {
      // The fast modes force these whatever the request says (refiner too).
      const { outputs } = await run(
        small({ performance_selection: performance, overwrite_step: -1, guidance_scale: 7, sampler_name: 'euler_ancestral', refiner_model_name: REFINER_NAME, output_format: format }),
      );
      expect(outputs[0].meta.format).toBe(format);
      const m = fooocusJson(outputs[0]);
      expect(m).toMatchObject({ performance, steps, sampler, scheduler, guidance_scale: 1, sharpness: 0, adaptive_cfg: 1, adm_guidance: '(1.0, 1.0, 0.0)', refiner_model: 'None', seed: '4242' });
      expect(m.loras).toEqual([[lora, weight, expect.stringMatching(/^[0-9a-f]{10}$/)]]);
      expect(m.lora_combined_1).toBe(`${lora} : ${weight === 1 ? '1.0' : weight}`);
    });
  }
});

describe('LoRAs, refiner, expansion, wildcards', () => {
  it('LoRA stacking: two request LoRAs and an inline tag, all merged and recorded with their weights', async () => {
    const { outputs } = await run(
      small({
        prompt: 'a fox <lora:tiny-locon-r8:-0.5> in the snow',
        loras: [
          { enabled: true, model_name: 'tiny-lora-kohya-r4.safetensors', weight: 0.8 },
          { enabled: true, model_name: DEFAULT_LORA_NAME, weight: 0.1 },
        ],
        metadata_scheme: 'a1111',
      }),
    );
    const { positive, params } = a1111(outputs[0]);
    expect(positive).toBe('a fox in the snow'); // the tag left the prompt, spaces squeezed (Fooocus cleanup_prompt)
    expect(params).toContain('Lora weights: "tiny-lora-kohya-r4: 0.8, sd_xl_offset_example-lora_1.0: 0.1, tiny-locon-r8: -0.5"');
    expect(params).toMatch(/Lora hashes: "tiny-lora-kohya-r4: [0-9a-f]{10}, sd_xl_offset_example-lora_1\.0: [0-9a-f]{10}, tiny-locon-r8: [0-9a-f]{10}"/);
  });

  it('a LoRA that matches nothing of the model is reported to the client, not silently ignored', async () => {
    const res = await fetch(`${full.baseUrl}/v1/engine/generate/`, {
      method: 'POST',
      headers,
      body: JSON.stringify(small({ stream_output: true, loras: [{ enabled: true, model_name: 'tiny-lora-mismatch.safetensors', weight: 1 }] })),
    });
    const events = (await res.text())
      .split('\r\n\r\n')
      .flatMap((block) => block.split('\r\n'))
      .filter((line) => line.startsWith('data: {'))
      .map((line) => JSON.parse(line.slice(6)));
    const warning = events.find((e) => typeof e.message === 'string' && e.message.startsWith('Warning: '));
    expect(warning?.message).toMatch(/LoRA tiny-lora-mismatch\.safetensors skipped/);
    expect(warning?.message).not.toContain(root);
    expect(events.at(-1)).toMatchObject({ message: 'Finished', images: [expect.any(String)] });
  });

  it('refiner (joint): the refiner takes over at the switch step and is recorded with its hash', async () => {
    const { outputs } = await run(small({ refiner_model_name: REFINER_NAME, overwrite_step: 4, overwrite_switch: 2, refiner_swap_method: 'joint' }));
    const m = fooocusJson(outputs[0]);
    expect(m).toMatchObject({ refiner_model: 'tiny-sdxl-refiner', refiner_switch: 0.5, overwrite_switch: 2, steps: 4 });
    expect(m.refiner_model_hash).toMatch(/^[0-9a-f]{10}$/);
    expect(m).not.toHaveProperty('refiner_swap_method'); // joint is the default, not recorded
  });

  it('Fooocus V2: the expansion (tiny GPT-2) runs per image seed, is the last workload, and is in the metadata', async () => {
    const body = small({ style_selections: ['Fooocus V2', 'Fooocus Sharp'], image_number: 2 });
    const { outputs } = await run(body);
    const [a, b] = outputs.map(fooocusJson);
    for (const m of [a, b]) {
      expect(m.styles).toBe("['Fooocus V2', 'Fooocus Sharp']");
      expect(m.prompt_expansion.startsWith('a fox in the snow,')).toBe(true);
      expect(m.prompt_expansion.length).toBeGreaterThan('a fox in the snow,'.length);
      expect(m.full_prompt.at(-1)).toBe(m.prompt_expansion);
      expect(m.full_prompt.length).toBe(2); // the Sharp style's workload, then the expansion
      expect(m.full_prompt[0]).toContain('a fox in the snow');
    }
    expect([a.seed, b.seed]).toEqual(['4242', '4243']);
    // Same seed, same expansion.
    const again = fooocusJson((await run(body)).outputs[0]);
    expect(again.prompt_expansion).toBe(a.prompt_expansion);
  });

  it('wildcards (nested, from the wildcards folder) and arrays: the resolved text per image', async () => {
    const inOrder = await run(small({ prompt: 'a __color__ [[cat,dog]]', read_wildcards_in_order: true, image_number: 3 }));
    expect(inOrder.outputs.map((o) => fooocusJson(o).prompt)).toEqual(['a red cat', 'a green  dog', 'a blue cat']); // Fooocus cleans "[[cat,dog]]" to "[[cat, dog]]" before arrays
    expect(inOrder.outputs.map((o) => fooocusJson(o).full_prompt)).toEqual([['a red cat'], ['a green  dog'], ['a blue cat']]);

    // Random draws: CPython's random.Random(image seed), breadth first (animal line, then its color).
    const random = await run(small({ prompt: 'a __animal__', image_seed: 77, image_number: 2, metadata_scheme: 'a1111' }));
    random.outputs.forEach((out, i) => {
      const rng = new PythonRandom(77n + BigInt(i));
      const line = rng.choice(['__color__ fox', '__color__ owl']);
      const expected = `a ${line.replace('__color__', rng.choice(COLORS))}`;
      const { positive, params } = a1111(out);
      expect(positive).toBe(expected);
      expect(params).toContain(`Raw prompt: ${expected}`);
    });
  });

  it('save_metadata_to_images=false writes no parameters', async () => {
    const { outputs } = await run(small({ save_metadata_to_images: false }));
    expect(outputs[0].meta.parameters).toBeNull();
  });

  it('FooocusAPI defaults (Fooocus V2, offset LoRA @0.1, Speed) run when the files are in place', async () => {
    const { outputs } = await run({ prompt: 'a fox in the snow', base_model_name: CHECKPOINT_NAME, overwrite_width: 128, overwrite_height: 128, overwrite_step: 2, image_seed: 5 });
    const m = fooocusJson(outputs[0]);
    expect(m.styles).toBe("['Fooocus V2', 'Fooocus Enhance', 'Fooocus Sharp']");
    expect(m.loras).toEqual([['sd_xl_offset_example-lora_1.0', 0.1, expect.stringMatching(/^[0-9a-f]{10}$/)]]);
    expect(m.prompt_expansion).toMatch(/^a fox in the snow,/);
  });
});

describe('missing model files fail the task with a message naming them', () => {
  async function failed(svc: ApiService, body: Record<string, unknown>): Promise<{ code: string; message: string }> {
    const rec = await generate(svc, body);
    expect(rec.task_status).toBe('failed');
    expect(rec.result).toEqual([]);
    expect(rec.error.message).not.toContain(root); // no server paths
    return rec.error;
  }

  it('"Fooocus V2" without the expansion folder names the folder to fill', async () => {
    const error = await failed(bare, small({ style_selections: ['Fooocus V2'] }));
    expect(error.code).toBe('model_missing');
    expect(error.message).toContain('prompt_expansion/fooocus_expansion/');
    expect(error.message).toContain('Fooocus V2');
  });

  it('a missing LoRA names the file and the loras folder', async () => {
    const error = await failed(full, small({ loras: [{ enabled: true, model_name: 'not-there.safetensors', weight: 0.5 }] }));
    expect(error).toEqual({ code: 'model_missing', message: expect.stringContaining("LoRA file 'not-there.safetensors' not found in the loras folder") });
  });

  it('black_out_nsfw without the NSFW classifier names the file to install', async () => {
    const error = await failed(full, small({ black_out_nsfw: true }));
    expect(error).toEqual({ code: 'model_missing', message: expect.stringContaining('black_out_nsfw needs an ONNX NSFW classifier at safety_checker/model.onnx') });
  });

  it('a missing performance LoRA names the file that must be placed', async () => {
    const error = await failed(bare, small({ performance_selection: 'Lightning' }));
    expect(error.code).toBe('model_missing');
    expect(error.message).toContain("performance 'Lightning' needs the LoRA file 'sdxl_lightning_4step_lora.safetensors'");
  });
});
