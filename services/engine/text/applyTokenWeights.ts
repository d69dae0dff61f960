/**
 * Prompt emphasis applied to CLIP hidden states, Fooocus' A1111-style rule
 * (F `modules/patch_clip.py` `encode_token_weights_fooocus`; pipeline.md §1.4 "Weighting").
 *
 * For each token j of a chunk whose weight w ≠ 1:
 *     z[j] = (z[j] − z_empty[j]) · w + z_empty[j]
 * where z_empty is the same encoder's output for the empty sequence `[BOS, EOS, pad…]`
 * (`emptyChunkIds`), i.e. the emphasis scales each token's distance from "no prompt" at that
 * position. Then the whole chunk is rescaled so its mean over all 77·C elements is what it was
 * before: z ·= mean_before / mean_after. This keeps the overall magnitude of the context stable
 * when many tokens are emphasised (Kohya/A1111 behaviour, which Fooocus adopted on purpose).
 *
 * Fooocus only does any of this when some token of the text has a weight ≠ 1 (`hasTokenWeights`;
 * otherwise it does not even encode the empty sequence). A chunk whose weights are all 1 inside
 * such a text is rescaled by mean/mean = 1, so it is returned unchanged here.
 *
 * Arithmetic follows torch float32: the weight is rounded to float32 and every operation result
 * is rounded (Math.fround), so weighted tokens match the reference bit for bit. The two means
 * are summed in float64 and rounded once; torch sums in float32 with its own blocking, so the
 * rescale factor may differ from the reference by about one float32 ulp.
 */

/** Whether Fooocus weights this text at all: some token, in any chunk, has weight ≠ 1. */
export function hasTokenWeights(chunks: readonly { readonly weights: readonly number[] }[]): boolean {
  return chunks.some((chunk) => chunk.weights.some((w) => w !== 1));
}

/**
 * Emphasis for one chunk.
 * @param hidden hidden states of the chunk, `[tokens, C]` row-major (tokens = weights.length, 77).
 * @param emptyHidden the same encoder's hidden states for the empty sequence, same shape.
 * @param weights per-token weights of the chunk (`TokenChunk.weights`).
 * @returns a new array; the inputs are not modified.
 */
export function applyTokenWeights(
  hidden: Float32Array,
  emptyHidden: Float32Array,
  weights: readonly number[],
): Float32Array {
  if (weights.length === 0 || hidden.length % weights.length !== 0 || emptyHidden.length !== hidden.length) {
    throw new RangeError(
      `applyTokenWeights: hidden (${hidden.length}) and empty (${emptyHidden.length}) must both be ` +
        `${weights.length} tokens × channels`,
    );
  }
  const out = Float32Array.from(hidden);
  if (weights.every((w) => w === 1)) return out;

  const channels = hidden.length / weights.length;
  const meanBefore = float32Mean(out);
  for (let j = 0; j < weights.length; j++) {
    if (weights[j] === 1) continue;
    const w = Math.fround(weights[j]);
    for (let k = j * channels, end = k + channels; k < end; k++) {
      const e = emptyHidden[k];
      out[k] = Math.fround(Math.fround(out[k] - e) * w) + e; // final rounding by the Float32Array store
    }
  }
  const scale = Math.fround(meanBefore / float32Mean(out));
  for (let k = 0; k < out.length; k++) out[k] = out[k] * scale;
  return out;
}

function float32Mean(values: Float32Array): number {
  let sum = 0;
  for (let k = 0; k < values.length; k++) sum += values[k];
  return Math.fround(sum / values.length);
}
