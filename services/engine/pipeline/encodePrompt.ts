/**
 * Prompt text → SDXL conditioning (pipeline.md §1.4).
 *
 * Per text: both tokenizers give the same chunks (CLIP-L padded with EOS,
 * CLIP-G with 0); each encoder returns every hidden state and the one at
 * `clip_skip` (2 = penultimate, no final LayerNorm) is kept; weighted tokens
 * are pulled away from the empty prompt's states (applyTokenWeights); the
 * per-chunk [L | G] states are concatenated along channels and the chunks
 * along tokens. The pooled vector is CLIP-G's for the first chunk.
 *
 * Several workloads (style lines, extra prompt lines, the expansion) are
 * concatenated along tokens, and the pooled vectors of the first `topK` are
 * summed — a sum, not a mean, as Fooocus does (default_pipeline.py).
 */
import { applyTokenWeights, hasTokenWeights } from '../text/applyTokenWeights.ts';
import { CHUNK_LENGTH, CLIP_G_PAD_ID, CLIP_L_PAD_ID, emptyChunkIds, tokenizeForSdxl, type TokenChunk } from '../text/tokenizePrompt.ts';
import type { ClipOutput, LoadedCheckpoint } from '../runtime/loadedCheckpoint.ts';
import { EngineInputError } from '../io/engineErrors.ts';

export interface TextConditioning {
  /** [tokens, width] row-major. */
  context: Float32Array;
  tokens: number;
  width: number;
  pooled: Float32Array;
}

/** Hidden-state index for a clip_skip value: 1 = last layer, 2 = penultimate, … */
export function hiddenIndexForClipSkip(layers: number, clipSkip: number): number {
  if (!Number.isInteger(clipSkip) || clipSkip < 1) throw new EngineInputError(`clip_skip must be an integer ≥ 1, got ${clipSkip}`);
  // Fooocus reads hidden_states[-clip_skip] of [embeddings, layer 1, …, layer L]: the
  // embedding output is reachable, and deeper than that is an error (Python's IndexError).
  if (clipSkip > layers + 1) throw new EngineInputError(`clip_skip ${clipSkip} exceeds this text encoder's ${layers} layers + embeddings`);
  return layers + 1 - clipSkip;
}

async function encodeWithEncoder(
  model: LoadedCheckpoint,
  which: 'clip_l' | 'clip_g',
  chunks: TokenChunk[],
  padId: number,
  clipSkip: number,
): Promise<{ states: Float32Array[]; width: number; pooled?: Float32Array }> {
  const weighted = hasTokenWeights(chunks);
  const rows = chunks.map((c) => c.ids);
  if (weighted) rows.push(emptyChunkIds(padId));
  const ids = new BigInt64Array(rows.length * CHUNK_LENGTH);
  rows.forEach((r, b) => r.forEach((id, j) => (ids[b * CHUNK_LENGTH + j] = BigInt(id))));
  const out: ClipOutput = await model.encodeClip(which, ids, rows.length);
  const idx = hiddenIndexForClipSkip(out.layers, clipSkip);
  const per = CHUNK_LENGTH * out.width;
  const row = (b: number) => out.hidden.subarray((idx * out.batch + b) * per, (idx * out.batch + b + 1) * per);
  const states = chunks.map((c, b) => (weighted ? applyTokenWeights(row(b), row(chunks.length), c.weights) : row(b)));
  return { states, width: out.width, pooled: out.pooled?.subarray(0, out.pooled.length / out.batch) };
}

export async function encodePrompt(model: LoadedCheckpoint, text: string, clipSkip = 2): Promise<TextConditioning> {
  const tokens = tokenizeForSdxl(text);
  const [l, g] = await Promise.all([
    encodeWithEncoder(model, 'clip_l', tokens.clipL, CLIP_L_PAD_ID, clipSkip),
    encodeWithEncoder(model, 'clip_g', tokens.clipG, CLIP_G_PAD_ID, clipSkip),
  ]);
  if (!g.pooled) throw new Error('CLIP-G graph returned no pooled output');
  const width = l.width + g.width;
  const n = tokens.clipL.length;
  const context = new Float32Array(n * CHUNK_LENGTH * width);
  for (let c = 0; c < n; c++) {
    for (let t = 0; t < CHUNK_LENGTH; t++) {
      const dst = (c * CHUNK_LENGTH + t) * width;
      context.set(l.states[c].subarray(t * l.width, (t + 1) * l.width), dst);
      context.set(g.states[c].subarray(t * g.width, (t + 1) * g.width), dst + l.width);
    }
  }
  return { context, tokens: n * CHUNK_LENGTH, width, pooled: Float32Array.from(g.pooled) };
}

/** Workloads → one conditioning: contexts concatenated, pooled summed over the first topK. */
export async function encodeWorkloads(
  model: LoadedCheckpoint,
  texts: string[],
  opts: { topK?: number; clipSkip?: number; cache?: Map<string, TextConditioning> } = {},
): Promise<TextConditioning> {
  const list = texts.length > 0 ? texts : [''];
  const parts: TextConditioning[] = [];
  for (const t of list) {
    const key = `${opts.clipSkip ?? 2}\u0000${t}`;
    let c = opts.cache?.get(key);
    if (!c) {
      c = await encodePrompt(model, t, opts.clipSkip ?? 2);
      opts.cache?.set(key, c);
    }
    parts.push(c);
  }
  const width = parts[0].width;
  const tokens = parts.reduce((s, p) => s + p.tokens, 0);
  const context = new Float32Array(tokens * width);
  let off = 0;
  for (const p of parts) {
    context.set(p.context, off);
    off += p.context.length;
  }
  const topK = Math.max(1, Math.min(opts.topK ?? parts.length, parts.length));
  const pooled = new Float32Array(parts[0].pooled.length);
  for (let k = 0; k < topK; k++) for (let i = 0; i < pooled.length; i++) pooled[i] += parts[k].pooled[i];
  return { context, tokens, width, pooled };
}
