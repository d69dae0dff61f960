import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import * as ort from 'onnxruntime-node';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { layerNormRows } from '../golden/textEncoderCases.ts';
import { CheckpointError } from '../io/engineErrors.ts';
import { openSafetensors } from '../io/safetensors.ts';
import type { ComputeType } from '../onnx/graphBuilder.ts';
import { checkpointWeights, prefixedWeights, type WeightSource } from '../onnx/weightSource.ts';
import { clipConfigFromWeights } from './clipConfig.ts';
import {
  buildClipGGraph, buildClipLGraph, CLIP_G_PREFIX, CLIP_L_PREFIX, REFINER_CLIP_G_PREFIX, type ClipGraph,
} from './clipTextGraph.ts';
import { closeness, floats, GOLDEN_DIR, goldenCase, graphDir, openSession, TINY_CHECKPOINT, type Closeness } from './testing/golden.ts';

const FP32 = { rtol: 1e-4, atol: 1e-4 };
const FP16 = { atol: 1e-2 };
const PROMPTS = ['p0', 'p1', 'p2'];

const ckpt = openSafetensors(TINY_CHECKPOINT);
const weights = checkpointWeights(ckpt);
const tokens = openSafetensors(goldenCase('tokens'));
const expected = openSafetensors(goldenCase('text_encoders'));
const readmeConfig = JSON.parse(readFileSync(join(GOLDEN_DIR, 'cases.json'), 'utf8')).config;
const dir = graphDir();
const measured: Record<string, Pick<Closeness, 'maxAbs' | 'rel'>> = {};

afterAll(() => {
  console.info('CLIP graph errors vs golden:', measured);
  dir.remove();
});

function ids(prompt: string, tower: 'clip_l' | 'clip_g'): ort.Tensor {
  const t = tokens.tensor(`${prompt}.${tower}.ids`);
  return new ort.Tensor('int64', t.data as BigInt64Array, t.shape);
}

/** Rows [n,77,W] of hidden_states at one index. */
function stateAt(hs: ort.Tensor, index: number): Float32Array {
  const per = hs.dims.slice(1).reduce((a, b) => a * b, 1);
  return floats(hs).subarray(index * per, (index + 1) * per);
}

function check(label: string, got: Float32Array, wantKey: string, tol: { rtol?: number; atol: number }): void {
  const c = closeness(got, expected.float32(wantKey), tol);
  measured[label] = { maxAbs: c.maxAbs, rel: c.rel };
  expect(c.failures, `${label}: max abs ${c.maxAbs}`).toBe(0);
}

describe('CLIP text encoder configs', () => {
  it('infers the README CLIP-L and CLIP-G configs from the weights', () => {
    const l = clipConfigFromWeights(prefixedWeights(weights, CLIP_L_PREFIX), 'hf');
    const g = clipConfigFromWeights(prefixedWeights(weights, CLIP_G_PREFIX), 'openclip');
    const want = readmeConfig;
    expect({ width: l.width, heads: l.heads, layers: l.layers, act: l.activation }).toEqual(want.clip_l);
    expect({ width: g.width, heads: g.heads, layers: g.layers, act: g.activation, proj: g.projectionDim }).toEqual(want.clip_g);
    expect([l.mlpWidth, g.mlpWidth, l.vocab, l.positions, l.projectionDim]).toEqual([256, 512, 49408, 77, null]);
  });

  it('fails with a CheckpointError naming the missing tensor when the prefix holds no CLIP', () => {
    expect(() => clipConfigFromWeights(prefixedWeights(weights, 'first_stage_model.'), 'openclip')).toThrow(CheckpointError);
    expect(() => buildClipLGraph({ weights, prefix: CLIP_G_PREFIX })).toThrow(/embeddings\.token_embedding\.weight/);
  });
});

for (const compute of ['float32', 'float16'] as ComputeType[]) {
  const tol = compute === 'float32' ? FP32 : FP16;
  describe(`CLIP text encoders, ${compute} compute`, () => {
    let clipL: ClipGraph;
    let clipG: ClipGraph;
    let sessL: ort.InferenceSession;
    let sessG: ort.InferenceSession;
    beforeAll(async () => {
      clipL = buildClipLGraph({ weights, compute });
      clipG = buildClipGGraph({ weights, compute });
      sessL = await openSession(clipL.model, dir.dir, `clip_l_${compute}.onnx`);
      sessG = await openSession(clipG.model, dir.dir, `clip_g_${compute}.onnx`);
    });

    for (const p of PROMPTS) {
      it(`CLIP-L ${p}: hidden_states[L-1] is the penultimate state, hidden_states[L] the last layer`, async () => {
        const { hidden_states: hs } = await sessL.run({ input_ids: ids(p, 'clip_l') });
        const L = clipL.config.layers;
        expect(hs.dims).toEqual([L + 1, tokens.info(`${p}.clip_l.ids`).shape[0], 77, clipL.config.width]);
        check(`${compute} ${p} clip_l.penultimate`, stateAt(hs, L - 1), `${p}.clip_l.penultimate`, tol);
        const normed = layerNormRows(stateAt(hs, L), clipL.config.width, ckpt, `${CLIP_L_PREFIX}final_layer_norm`);
        check(`${compute} ${p} clip_l.last_normed`, normed, `${p}.clip_l.last_normed`, tol);
      });

      it(`CLIP-G ${p}: penultimate state, last layer and pooled EOS projection`, async () => {
        const r = await sessG.run({ input_ids: ids(p, 'clip_g') });
        const L = clipG.config.layers;
        check(`${compute} ${p} clip_g.penultimate`, stateAt(r.hidden_states, L - 1), `${p}.clip_g.penultimate`, tol);
        const normed = layerNormRows(stateAt(r.hidden_states, L), clipG.config.width, ckpt, `${CLIP_G_PREFIX}ln_final`);
        check(`${compute} ${p} clip_g.last_normed`, normed, `${p}.clip_g.last_normed`, tol);
        expect(r.pooled.dims).toEqual([tokens.info(`${p}.clip_g.ids`).shape[0], 128]);
        check(`${compute} ${p} clip_g.pooled`, floats(r.pooled), `${p}.clip_g.pooled`, tol);
      });
    }
  });
}

describe('CLIP-G under the refiner prefix', () => {
  it('builds from conditioner.embedders.0.model. keys and gives the same pooled output', async () => {
    // A refiner-shaped view of the tiny checkpoint: CLIP-G renamed to embedders.0.
    const refiner: WeightSource = {
      name: weights.name,
      has: (k) => k.startsWith(REFINER_CLIP_G_PREFIX) && weights.has(CLIP_G_PREFIX + k.slice(REFINER_CLIP_G_PREFIX.length)),
      ref: (k) => weights.ref(CLIP_G_PREFIX + k.slice(REFINER_CLIP_G_PREFIX.length)),
      *keys() {
        for (const k of weights.keys()) if (k.startsWith(CLIP_G_PREFIX)) yield REFINER_CLIP_G_PREFIX + k.slice(CLIP_G_PREFIX.length);
      },
    };
    const { model } = buildClipGGraph({ weights: refiner, prefix: REFINER_CLIP_G_PREFIX });
    const sess = await openSession(model, dir.dir, 'clip_g_refiner.onnx');
    const r = await sess.run({ input_ids: ids('p0', 'clip_g') });
    expect(closeness(floats(r.pooled), expected.float32('p0.clip_g.pooled'), FP32).failures).toBe(0);
  });
});
