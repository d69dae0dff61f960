/**
 * CLIP vision tower: config inference (the golden tiny tower, ViT-H/14
 * shapes, refused files) and the graph against golden-features §9
 * (`clip_vision.penultimate`, `clip_vision.image_embeds` of `pixel_values`).
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import * as ort from 'onnxruntime-node';
import { afterAll, describe, expect, it } from 'vitest';
import { CheckpointError } from '../io/engineErrors.ts';
import { openSafetensors } from '../io/safetensors.ts';
import { checkpointWeights, type WeightSource } from '../onnx/weightSource.ts';
import { clipVisionConfigFromWeights, clipVisionPrefix } from './clipVisionConfig.ts';
import { buildClipVisionGraph, CLIP_VISION_IO } from './clipVisionGraph.ts';
import { closeness, graphDir, openSession } from './testing/golden.ts';

const FEATURES = '/work/shared/golden-features';
const section = JSON.parse(readFileSync(join(FEATURES, 'cases.json'), 'utf8')).cases.ipadapter;
const TOL = JSON.parse(readFileSync(join(FEATURES, 'cases.json'), 'utf8')).tolerances.fp32['ipadapter_clip_vision / resampler / ip_k_v'] as { rtol: number; atol: number };
const dirs = graphDir();
afterAll(() => dirs.remove());

/** A WeightSource of shapes only (config inference never reads bytes). */
function shapesOnly(shapes: Record<string, number[]>, name = 'shapes'): WeightSource {
  return {
    name,
    has: (k) => k in shapes,
    ref: (k) => ({ key: k, dtype: 'F16', shape: shapes[k], file: name, offset: 0, byteLength: 0 }),
    keys: () => Object.keys(shapes),
  };
}

function vitShapes(width: number, layers: number, mlp: number, patch: number, grid: number, projection: number): Record<string, number[]> {
  const s: Record<string, number[]> = {
    'vision_model.embeddings.class_embedding': [width],
    'vision_model.embeddings.patch_embedding.weight': [width, 3, patch, patch],
    'vision_model.embeddings.position_embedding.weight': [grid * grid + 1, width],
    'vision_model.pre_layrnorm.weight': [width],
    'vision_model.post_layernorm.weight': [width],
    'visual_projection.weight': [projection, width],
  };
  for (let i = 0; i < layers; i++) s[`vision_model.encoder.layers.${i}.mlp.fc1.weight`] = [mlp, width];
  return s;
}

describe('CLIP vision config', () => {
  it('recovers the golden tiny tower config from its shapes', () => {
    const f = openSafetensors(join(FEATURES, section.clip_vision));
    try {
      const c = clipVisionConfigFromWeights(checkpointWeights(f));
      const want = section.clip_vision_config;
      expect([c.imageSize, c.patchSize, c.width, c.layers, c.heads, c.mlpWidth, c.projectionDim, c.activation, c.positions])
        .toEqual([want.image_size, want.patch_size, want.hidden_size, want.layers, want.heads, want.intermediate_size, want.projection_dim, want.hidden_act, 257]);
    } finally {
      f.close();
    }
  });

  it('reads ViT-H/14 (Fooocus clip_vision_vit_h) as 32 layers × 1280 with 16 heads of 80, under any key prefix', () => {
    const shapes = vitShapes(1280, 32, 5120, 14, 16, 1024);
    const nested = shapesOnly(Object.fromEntries(Object.entries(shapes).map(([k, v]) => [`clip_vision.${k}`, v])));
    expect(clipVisionPrefix(nested)).toBe('clip_vision.');
    const c = clipVisionConfigFromWeights(shapesOnly(shapes));
    expect(c).toMatchObject({ width: 1280, layers: 32, heads: 16, headDim: 80, mlpWidth: 5120, imageSize: 224, positions: 257, projectionDim: 1024 });
  });

  it('refuses a file that is not a CLIP vision tower, or has a malformed position table', () => {
    const neg = openSafetensors(join(FEATURES, section.ip_negative));
    try {
      expect(() => clipVisionPrefix(checkpointWeights(neg))).toThrow(CheckpointError);
    } finally {
      neg.close();
    }
    const bad = vitShapes(64, 2, 256, 14, 16, 32);
    bad['vision_model.embeddings.position_embedding.weight'] = [200, 64];
    expect(() => clipVisionConfigFromWeights(shapesOnly(bad))).toThrow(/square grid/);
  });
});

describe('CLIP vision graph', () => {
  it('gives hidden_states[-2] and image_embeds of the golden pixels', async () => {
    const f = openSafetensors(join(FEATURES, section.clip_vision));
    const cases = openSafetensors(join(FEATURES, section.file));
    try {
      const { model } = buildClipVisionGraph({ weights: checkpointWeights(f), imageEmbeds: true });
      const session = await openSession(model, dirs.dir, 'clip_vision.onnx');
      const out = await session.run({ [CLIP_VISION_IO.pixels]: new ort.Tensor('float32', cases.float32('pixel_values'), cases.info('pixel_values').shape) });
      expect(out[CLIP_VISION_IO.penultimate].dims).toEqual([1, 257, 64]);
      expect(closeness(out[CLIP_VISION_IO.penultimate].data as Float32Array, cases.float32('clip_vision.penultimate'), TOL).failures).toBe(0);
      expect(closeness(out[CLIP_VISION_IO.imageEmbeds].data as Float32Array, cases.float32('clip_vision.image_embeds'), TOL).failures).toBe(0);
      await session.release();
    } finally {
      f.close();
      cases.close();
    }
  });

  it('builds only the layers before the last when image_embeds is not asked for', () => {
    const f = openSafetensors(join(FEATURES, section.clip_vision));
    try {
      const { model } = buildClipVisionGraph({ weights: checkpointWeights(f) });
      const inits = (model.proto.graph!.initializer ?? []).map((t) => t.name!);
      expect(inits.some((n) => n.startsWith('vision_model.encoder.layers.0.'))).toBe(true);
      expect(inits.some((n) => n.startsWith('vision_model.encoder.layers.1.'))).toBe(false);
      expect((model.proto.graph!.output ?? []).map((o) => o.name)).toEqual([CLIP_VISION_IO.penultimate]);
    } finally {
      f.close();
    }
  });
});
