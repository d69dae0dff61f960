/**
 * Golden `text_encoders` cases (README §2.2), through the engine's own path:
 * prompt → `tokenizeForSdxl` → the checkpoint's CLIP-L / CLIP-G graphs
 * (`LoadedCheckpoint.encodeClip`) → per-chunk penultimate states ("clip skip
 * 2", no final LayerNorm) and CLIP-G's pooled EOS projection; then
 * `encodeWorkloads`, which the engine calls per prompt, for the assembled
 * SDXL context `[L | G]` (chunks along tokens) and the first chunk's pooled
 * vector.
 *
 * `last_normed` (the final LayerNorm of the last layer, unused by SDXL) is
 * checked too: it is the only place the last layer's full output shows, and
 * the graphs return that output unnormalised, so the LayerNorm is applied
 * here in float64 with the checkpoint's own weights.
 */
import { CLIP_G_PREFIX, CLIP_L_PREFIX } from '../graphs/clipTextGraph.ts';
import { encodeWorkloads, hiddenIndexForClipSkip } from '../pipeline/encodePrompt.ts';
import { tokenizeForSdxl } from '../text/tokenizePrompt.ts';
import type { CaseRunner } from './caseRunner.ts';
import type { GoldenPrompt } from './tokenCases.ts';

/** SDXL conditions on the penultimate CLIP layer. */
const SDXL_CLIP_SKIP = 2;
/** LayerNorm eps of both CLIP towers (README §1). */
const CLIP_LAYER_NORM_EPS = 1e-5;

const FINAL_LAYER_NORM = {
  clip_l: `${CLIP_L_PREFIX}final_layer_norm`,
  clip_g: `${CLIP_G_PREFIX}ln_final`,
} as const;

interface TextEncodersSection {
  file: string;
  prompts: GoldenPrompt[];
}

/** Anything that hands out float32 tensors by name (a checkpoint file, a case file). */
export interface Float32Tensors {
  float32(name: string): Float32Array;
}

/**
 * LayerNorm over the last axis of rows of `width` values, in float64, with
 * `<key>.weight` / `<key>.bias` from `weights` (the reference for the
 * `last_normed` debug tensors).
 */
export function layerNormRows(x: Float32Array, width: number, weights: Float32Tensors, key: string, eps = CLIP_LAYER_NORM_EPS): Float32Array {
  const w = weights.float32(`${key}.weight`);
  const b = weights.float32(`${key}.bias`);
  const out = new Float32Array(x.length);
  for (let r = 0; r < x.length; r += width) {
    let mean = 0;
    for (let i = 0; i < width; i++) mean += x[r + i];
    mean /= width;
    let v = 0;
    for (let i = 0; i < width; i++) v += (x[r + i] - mean) ** 2;
    const inv = 1 / Math.sqrt(v / width + eps);
    for (let i = 0; i < width; i++) out[r + i] = (x[r + i] - mean) * inv * w[i] + b[i];
  }
  return out;
}

export const runTextEncoderCases: CaseRunner = async (set, c) => {
  const section = set.section<TextEncodersSection>('text_encoders');
  const file = set.file(section.file);
  const tol = set.tolerance('text_encoders');
  for (const prompt of section.prompts) {
    const p = `p${prompt.index}`;
    await c.check(p, async (checks) => {
      const model = await set.checkpoint();
      const tokens = tokenizeForSdxl(prompt.text);
      for (const [tower, chunks] of [['clip_l', tokens.clipL], ['clip_g', tokens.clipG]] as const) {
        const ids = BigInt64Array.from(chunks.flatMap((ch) => ch.ids), BigInt);
        const out = await model.encodeClip(tower, ids, chunks.length);
        // hidden is [layers + 1, chunks, 77, width]: one state index holds every chunk.
        const per = ids.length * out.width;
        const state = (index: number) => out.hidden.subarray(index * per, (index + 1) * per);
        const want = (name: string) => (file.has(`${p}.${tower}.${name}`) ? `${p}.${tower}.${name}` : null);
        const penultimate = want('penultimate');
        if (penultimate) checks.float(penultimate, state(hiddenIndexForClipSkip(out.layers, SDXL_CLIP_SKIP)), file.float32(penultimate), tol);
        const lastNormed = want('last_normed');
        if (lastNormed) {
          const normed = layerNormRows(state(out.layers), out.width, set.checkpointFile(), FINAL_LAYER_NORM[tower]);
          checks.float(lastNormed, normed, file.float32(lastNormed), tol);
        }
        const pooled = want('pooled');
        if (pooled) {
          if (!out.pooled) checks.require(pooled, false, `the ${tower} graph returns no pooled output`);
          else checks.float(pooled, out.pooled, file.float32(pooled), tol);
        }
      }
      const conditioning = await encodeWorkloads(model, [prompt.text], { clipSkip: SDXL_CLIP_SKIP });
      if (file.has(`${p}.context`)) checks.float(`${p}.context`, conditioning.context, file.float32(`${p}.context`), tol);
      if (file.has(`${p}.pooled`)) checks.float(`${p}.pooled`, conditioning.pooled, file.float32(`${p}.pooled`), tol);
    });
  }
};
