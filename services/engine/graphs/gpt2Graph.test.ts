/**
 * The GPT-2 KV-cache graph on the golden-features expansion model: logits
 * against the golden values (fp32 and fp16 compute), the cache loop against
 * a full pass, the pickle → safetensors shard conversion and graph cache,
 * and the config/weight checks that turn a wrong folder into a named error.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { compareArrays } from '../golden/compare.ts';
import { CheckpointError, EngineInputError } from '../io/engineErrors.ts';
import { openSafetensors } from '../io/safetensors.ts';
import type { ComputeType } from '../onnx/graphBuilder.ts';
import { checkpointWeights } from '../onnx/weightSource.ts';
import { LoadedGpt2 } from '../runtime/loadedGpt2.ts';
import { buildGpt2Graph, checkGpt2Weights, gpt2ConfigFromJson, GPT2_KEYS } from './gpt2Graph.ts';
import { graphDir } from './testing/golden.ts';

const FEATURES = '/work/shared/golden-features';
const cases = JSON.parse(readFileSync(join(FEATURES, 'cases.json'), 'utf8'));
const section = cases.cases.expansion;
const FOLDER = join(FEATURES, section.folder);
const CONFIG = join(FOLDER, 'config.json');
const WEIGHTS = join(FOLDER, 'pytorch_model.bin');
const expected = openSafetensors(join(FEATURES, section.file));
const configJson = JSON.parse(readFileSync(CONFIG, 'utf8'));
const FP32 = cases.tolerances.fp32['expansion_logits / processed_scores'] as { rtol: number; atol: number };
const FP16 = cases.tolerances.fp16.expansion_logits as { rtol: number; atol: number };
const ids = (p: string) => Array.from(expected.tensor(`${p}.input_ids`).data as BigInt64Array, Number);

const dir = graphDir();
const measured: Record<string, number> = {};
const loaded: LoadedGpt2[] = [];

afterAll(async () => {
  console.info('GPT-2 graph max |Δ| vs golden:', measured);
  for (const m of loaded) await m.close();
  dir.remove();
});

async function load(compute: ComputeType, cacheDir = dir.dir): Promise<LoadedGpt2> {
  const m = await LoadedGpt2.load({ weightsPath: WEIGHTS, configPath: CONFIG, cacheDir, compute, session: { providers: ['cpu'] } });
  loaded.push(m);
  return m;
}

describe('GPT-2 config', () => {
  it('reads the golden config.json as cases.json describes it', () => {
    const c = gpt2ConfigFromJson(configJson, CONFIG);
    expect({ n_layer: c.layers, n_embd: c.width, n_head: c.heads, n_positions: c.positions }).toEqual(section.config);
    expect([c.headDim, c.vocab, c.innerWidth, c.layerNormEps, c.activation, c.tiedLmHead]).toEqual([32, 50257, 256, 1e-5, 'gelu_new', true]);
  });

  it.each([
    [{ n_embd: 65 }, /not a multiple of n_head/],
    [{ activation_function: 'swish' }, /activation_function swish is not supported/],
    [{ model_type: 'llama' }, /model_type "llama"/],
    [{ n_layer: undefined }, /n_layer is undefined/],
  ])('refuses %j with a CheckpointError naming config.json', (patch, message) => {
    const e = (() => {
      try {
        gpt2ConfigFromJson({ ...configJson, ...patch }, CONFIG);
      } catch (err) {
        return err as CheckpointError;
      }
      throw new Error('no error');
    })();
    expect(e).toBeInstanceOf(CheckpointError);
    expect(e.file).toBe(CONFIG);
    expect(e.message).toMatch(message);
  });
});

for (const compute of ['float32', 'float16'] as ComputeType[]) {
  const tol = compute === 'float32' ? FP32 : FP16;
  describe(`GPT-2 graph, ${compute}`, () => {
    it('prompt pass (empty cache): logits at every position match p0.logits_all', async () => {
      const m = await load(compute);
      const step = await m.forward(ids('p0'));
      expect(step.dims).toEqual([1, ids('p0').length, 50257]);
      const c = compareArrays(step.logits, expected.float32('p0.logits_all'), tol);
      measured[`${compute} p0.logits_all`] = c.maxAbs;
      expect(c.bad, `max |Δ| ${c.maxAbs}`).toBe(0);
      expect(step.present.length).toBe(ids('p0').length);
    });

    it.each((section.items as { index: number }[]).map((it) => `p${it.index}`))('%s: prefix + one token at a time through the cache gives logits_last', async (p: string) => {
      const m = await load(compute);
      const all = ids(p);
      let step = await m.forward(all.slice(0, 2));
      for (const id of all.slice(2)) step = await m.forward([id], 1, step.present);
      expect(step.present.length).toBe(all.length);
      const c = compareArrays(step.logits, expected.float32(`${p}.logits_last`), tol);
      measured[`${compute} ${p}.logits_last (cached)`] = c.maxAbs;
      expect(c.bad, `max |Δ| ${c.maxAbs}`).toBe(0);
    });
  });
}

describe('GPT-2 runtime', () => {
  it('a batch of two equal rows gives two equal rows of logits', async () => {
    const m = await load('float32');
    const row = ids('p1');
    const step = await m.forward([...row, ...row], 2);
    const V = 50257;
    const T = row.length;
    expect(compareArrays(step.logits.subarray(0, T * V), step.logits.subarray(T * V), { atol: 1e-6 }).ok).toBe(true);
  });

  it('converts the pickle once (keyed by content hash) and finds the graph in the cache on the next load', async () => {
    const cache = graphDir();
    try {
      const first = await load('float32', cache.dir);
      const second = await load('float32', cache.dir);
      expect([first.builtGraph, second.builtGraph]).toEqual([true, false]);
      const sha = cases.files.find((f: { path: string }) => f.path.endsWith('pytorch_model.bin')).sha256;
      expect(readdirSync(join(cache.dir, 'shards'))).toEqual([`${sha.slice(0, 32)}-gpt2-v1.safetensors`]);
    } finally {
      cache.remove();
    }
  });

  it('refuses more tokens than n_positions with an EngineInputError', async () => {
    const m = await load('float32');
    await expect(m.forward(new Array(section.config.n_positions + 1).fill(11))).rejects.toBeInstanceOf(EngineInputError);
  });

  it('the shard holds the parameters only: no mask buffers, no tied head', async () => {
    const cache = graphDir();
    try {
      const { torchPickleShard } = await import('../io/torchPickleShard.ts');
      const shard = await torchPickleShard(WEIGHTS, { cacheDir: cache.dir, variant: 'gpt2', keep: (k) => !k.endsWith('attn.bias') && !k.endsWith('masked_bias') && k !== GPT2_KEYS.lmHead });
      const f = openSafetensors(shard.path);
      expect([...f.tensors.keys()].some((k) => k.includes('attn.bias') || k === GPT2_KEYS.lmHead)).toBe(false);
      expect(f.info(GPT2_KEYS.wte)).toMatchObject({ dtype: 'F16', shape: [50257, section.config.n_embd] });
      expect(f.metadata.source_sha256).toBe(shard.contentHash);
      f.close();
      expect(shard.converted).toBe(true);
      const again = await torchPickleShard(WEIGHTS, { cacheDir: cache.dir, variant: 'gpt2' });
      expect([again.converted, again.path]).toEqual([false, shard.path]);
    } finally {
      cache.remove();
    }
  });

  it('a missing layer tensor is a CheckpointError naming the key', async () => {
    const cache = graphDir();
    try {
      const { torchPickleShard } = await import('../io/torchPickleShard.ts');
      const shard = await torchPickleShard(WEIGHTS, { cacheDir: cache.dir, variant: 'broken', keep: (k) => k !== 'transformer.h.1.mlp.c_fc.bias' });
      const f = openSafetensors(shard.path);
      const config = gpt2ConfigFromJson(configJson, CONFIG);
      expect(() => checkGpt2Weights(checkpointWeights(f), config)).toThrow(/transformer\.h\.1\.mlp\.c_fc\.bias is missing/);
      expect(() => buildGpt2Graph({ weights: checkpointWeights(f), config: { ...config, width: 32, headDim: 16 } })).toThrow(CheckpointError);
      f.close();
    } finally {
      cache.remove();
    }
  });
});
