import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import * as ort from 'onnxruntime-node';
import { afterAll, describe, expect, it } from 'vitest';
import { CheckpointError } from '../io/engineErrors.ts';
import { floatToHalf } from '../io/half.ts';
import { openSafetensors } from '../io/safetensors.ts';
import type { ComputeType } from '../onnx/graphBuilder.ts';
import { checkpointWeights, prefixedWeights, type WeightSource } from '../onnx/weightSource.ts';
import { vaeConfigFromWeights } from './vaeConfig.ts';
import { buildVaeDecoderGraph, VAE_PREFIX } from './vaeDecoderGraph.ts';
import { buildVaeEncoderGraph } from './vaeEncoderGraph.ts';
import { closeness, floats, GOLDEN_DIR, goldenCase, graphDir, openSession, TINY_CHECKPOINT, type Closeness } from './testing/golden.ts';

const TOL: Record<ComputeType, { rtol?: number; atol: number }> = {
  float32: { rtol: 1e-4, atol: 1e-4 },
  float16: { atol: 2e-2 },
};

const weights = checkpointWeights(openSafetensors(TINY_CHECKPOINT));
const cases = openSafetensors(goldenCase('vae'));
const readmeConfig = JSON.parse(readFileSync(join(GOLDEN_DIR, 'cases.json'), 'utf8')).config;
const dir = graphDir();
const measured: Record<string, Pick<Closeness, 'maxAbs' | 'rel'>> = {};

afterAll(() => {
  console.info('VAE graph errors vs golden:', measured);
  dir.remove();
});

function input(key: string, compute: ComputeType): ort.Tensor {
  const { shape } = cases.info(key);
  const v = cases.float32(key);
  return compute === 'float32'
    ? new ort.Tensor('float32', v, shape)
    : new ort.Tensor('float16', Uint16Array.from(v, floatToHalf), shape);
}

function check(label: string, got: Float32Array, wantKey: string, compute: ComputeType): void {
  const c = closeness(got, cases.float32(wantKey), TOL[compute]);
  measured[label] = { maxAbs: c.maxAbs, rel: c.rel };
  expect(c.failures, `${label}: max abs ${c.maxAbs}`).toBe(0);
}

describe('VAE config', () => {
  it('infers the README VAE config from the weights', () => {
    const c = vaeConfigFromWeights(prefixedWeights(weights, VAE_PREFIX));
    expect({ ch: c.ch, ch_mult: c.chMult, num_res_blocks: c.numResBlocks, z: c.zChannels }).toEqual(readmeConfig.vae);
    expect([c.embedDim, c.downFactor, c.inChannels, c.outChannels, c.groupNormEps]).toEqual([4, 8, 3, 3, 1e-6]);
  });

  it('refuses a VAE with attention inside a level instead of running without it', () => {
    const extra = 'first_stage_model.decoder.up.1.attn.0.q.weight';
    const withLevelAttn: WeightSource = {
      ...weights,
      keys: function* () { yield* weights.keys(); yield extra; },
    };
    expect(() => buildVaeDecoderGraph({ weights: withLevelAttn })).toThrow(CheckpointError);
    expect(() => buildVaeDecoderGraph({ weights: withLevelAttn })).toThrow(/attention inside a level/);
  });
});

for (const compute of ['float32', 'float16'] as ComputeType[]) {
  describe(`VAE, ${compute} compute`, () => {
    it('decodes the raw latent to the unclamped image', async () => {
      const { model } = buildVaeDecoderGraph({ weights, compute });
      const sess = await openSession(model, dir.dir, `vae_decoder_${compute}.onnx`);
      const { image } = await sess.run({ z: input('decode.z', compute) });
      expect(image.dims).toEqual(cases.info('decode.image').shape);
      check(`${compute} decode.image`, floats(image), 'decode.image', compute);
    });

    it('encodes an image to moments: mean in channels 0-3, logvar in 4-7', async () => {
      const { model, config } = buildVaeEncoderGraph({ weights, compute });
      const sess = await openSession(model, dir.dir, `vae_encoder_${compute}.onnx`);
      const { moments } = await sess.run({ image: input('encode.image', compute) });
      const [B, C, h, w] = moments.dims;
      expect([B, C, h, w]).toEqual([1, 2 * config.embedDim, 8, 8]);
      const all = floats(moments);
      const half = config.embedDim * h * w;
      check(`${compute} encode.mean`, all.subarray(0, half), 'encode.mean', compute);
      check(`${compute} encode.logvar`, all.subarray(half), 'encode.logvar', compute);
    });
  });
}
