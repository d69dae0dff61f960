/**
 * IP-Adapter Plus Resampler and To_KV graphs: config inference (the golden
 * tiny adapter, SDXL Plus shapes, refused files) and outputs against
 * golden-features §9 (`resampler.tokens` from `clip_vision.penultimate`,
 * `ip_cond.{j}` from the tokens, `ip_uncond.{j}` from the negative tokens).
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import * as ort from 'onnxruntime-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CheckpointError } from '../io/engineErrors.ts';
import { openSafetensors, type SafetensorsFile } from '../io/safetensors.ts';
import { torchPickleShard } from '../io/torchPickleShard.ts';
import { checkpointWeights, prefixedWeights, type WeightSource } from '../onnx/weightSource.ts';
import { buildIpKvGraph, IP_KV_IO, IP_KV_PREFIX, ipKvConfigFromWeights } from './ipAdapterKvGraph.ts';
import { buildResamplerGraph, RESAMPLER_IO, RESAMPLER_PREFIX, resamplerConfigFromWeights } from './resamplerGraph.ts';
import { closeness, graphDir, openSession } from './testing/golden.ts';

const FEATURES = '/work/shared/golden-features';
const json = JSON.parse(readFileSync(join(FEATURES, 'cases.json'), 'utf8'));
const section = json.cases.ipadapter;
const TOL = json.tolerances.fp32['ipadapter_clip_vision / resampler / ip_k_v'] as { rtol: number; atol: number };
const dirs = graphDir();
let adapter: SafetensorsFile;
let cases: SafetensorsFile;
let weights: WeightSource;

beforeAll(async () => {
  const shard = await torchPickleShard(join(FEATURES, section.ip_adapter), { cacheDir: dirs.dir, variant: 'ip_adapter' });
  adapter = openSafetensors(shard.path);
  weights = checkpointWeights(adapter);
  cases = openSafetensors(join(FEATURES, section.file));
});
afterAll(() => {
  adapter?.close();
  cases?.close();
  dirs.remove();
});

function shapesOnly(shapes: Record<string, number[]>): WeightSource {
  return {
    name: 'shapes',
    has: (k) => k in shapes,
    ref: (k) => ({ key: k, dtype: 'F16', shape: shapes[k], file: 'shapes', offset: 0, byteLength: 0 }),
    keys: () => Object.keys(shapes),
  };
}

const tensor = (name: string) => new ort.Tensor('float32', cases.float32(name), cases.info(name).shape);

describe('Resampler', () => {
  it('recovers the golden config from the adapter file', () => {
    const c = resamplerConfigFromWeights(prefixedWeights(weights, RESAMPLER_PREFIX));
    const w = section.resampler;
    expect(c).toEqual({ dim: w.dim, depth: w.depth, headDim: w.dim_head, heads: w.heads, numQueries: w.num_queries, embeddingDim: w.embedding_dim, outputDim: w.output_dim, ffMult: w.ff_mult });
  });

  it('reads SDXL Plus shapes as depth 4, 20 heads of 64, 16 queries, 1280 → 2048', () => {
    const s: Record<string, number[]> = {
      latents: [1, 16, 1280], 'proj_in.weight': [1280, 1280], 'proj_out.weight': [2048, 1280], 'norm_out.weight': [2048],
    };
    for (let i = 0; i < 4; i++) Object.assign(s, { [`layers.${i}.0.to_q.weight`]: [1280, 1280], [`layers.${i}.1.1.weight`]: [5120, 1280] });
    expect(resamplerConfigFromWeights(shapesOnly(s))).toEqual({ dim: 1280, depth: 4, headDim: 64, heads: 20, numQueries: 16, embeddingDim: 1280, outputDim: 2048, ffMult: 4 });
  });

  it('refuses a file without image_proj (the CLIP vision tower given as the adapter)', () => {
    const cv = openSafetensors(join(FEATURES, section.clip_vision));
    try {
      expect(() => resamplerConfigFromWeights(prefixedWeights(checkpointWeights(cv), RESAMPLER_PREFIX))).toThrow(CheckpointError);
      expect(() => ipKvConfigFromWeights(prefixedWeights(checkpointWeights(cv), IP_KV_PREFIX))).toThrow(/no ip_adapter/);
    } finally {
      cv.close();
    }
  });

  it('turns the golden penultimate CLIP state into the golden image tokens', async () => {
    const session = await openSession(buildResamplerGraph({ weights }).model, dirs.dir, 'resampler.onnx');
    const out = await session.run({ [RESAMPLER_IO.image]: tensor('clip_vision.penultimate') });
    expect(out[RESAMPLER_IO.tokens].dims).toEqual(cases.info('resampler.tokens').shape);
    expect(closeness(out[RESAMPLER_IO.tokens].data as Float32Array, cases.float32('resampler.tokens'), TOL).failures).toBe(0);
    await session.release();
  });
});

describe('To_KV', () => {
  it('orders the layers as Fooocus loads them (to_kv_channels)', () => {
    const c = ipKvConfigFromWeights(prefixedWeights(weights, IP_KV_PREFIX));
    expect(c.crossDim).toBe(section.resampler.output_dim);
    expect(c.layers.map((l) => l.keyIndex)).toEqual(Array.from({ length: c.layers.length }, (_, n) => 2 * n + 1));
    expect(c.layers.flatMap((l) => [l.channels, l.channels])).toEqual(section.to_kv_channels);
  });

  it('refuses a layer whose k and v disagree', () => {
    expect(() => ipKvConfigFromWeights(shapesOnly({ '1.to_k_ip.weight': [64, 192], '1.to_v_ip.weight': [128, 192] }))).toThrow(CheckpointError);
    expect(() => ipKvConfigFromWeights(shapesOnly({ '1.to_k_ip.weight': [64, 192] }))).toThrow(/to_v_ip.weight is missing/);
  });

  it('projects the golden tokens and the negative tokens to the stored ip_cond / ip_uncond', async () => {
    const session = await openSession(buildIpKvGraph({ weights }).model, dirs.dir, 'ip_kv.onnx');
    const neg = openSafetensors(join(FEATURES, section.ip_negative));
    try {
      const cond = await session.run({ [IP_KV_IO.tokens]: tensor('resampler.tokens') });
      const uncond = await session.run({ [IP_KV_IO.tokens]: new ort.Tensor('float32', neg.float32('data'), neg.info('data').shape) });
      let compared = 0;
      for (const name of cases.tensors.keys()) {
        const m = /^ip_(cond|uncond)\.(\d+)$/.exec(name);
        if (!m) continue;
        const j = Number(m[2]);
        const out = (m[1] === 'cond' ? cond : uncond)[j % 2 === 0 ? IP_KV_IO.k(j >> 1) : IP_KV_IO.v(j >> 1)];
        expect(out.dims, name).toEqual(cases.info(name).shape);
        expect(closeness(out.data as Float32Array, cases.float32(name), TOL).failures, name).toBe(0);
        compared++;
      }
      expect(compared).toBe(4);
    } finally {
      neg.close();
      await session.release();
    }
  });
});
