/**
 * Fooocus' inpaint head (F modules/inpaint_worker.py InpaintHead, patch;
 * pipeline.md §3.3 step 5, golden-features README §5): a bias-free 3×3 conv
 * `[model_channels, 5, 3, 3]` with replicate padding 1 over
 * `cat(latent_mask, 0.13025·latent_inpaint)`. Its output is the feature the
 * inpaint UNet variant adds to h after conv_in (graphs/unetGraph.ts,
 * `inpaintFeature`).
 *
 * Why in TypeScript, not a graph: it runs once per job on the latent
 * (SDXL 1024²: 320·5·9·128·128 ≈ 0.24 GMAC, a fraction of a second), and a
 * float64 accumulation rounded once stays within an ulp of torch's float32
 * conv. The weights come from the user's `.pth` through the allow-listed
 * pickle reader (io/torchPickle.ts), which never runs code.
 */
import { CheckpointError } from '../io/engineErrors.ts';
import { loadTorchStateDict } from '../io/torchPickle.ts';
import type { FloatTensor } from '../runtime/loadedCheckpoint.ts';

/** The state-dict key of the head's weight (`InpaintHead.head`, an nn.Parameter). */
export const INPAINT_HEAD_KEY = 'head';
/** Input channels: latent mask (1) + scaled inpaint latent (4). */
export const INPAINT_HEAD_IN_CHANNELS = 5;

export interface InpaintHead {
  /** [out, 5, 3, 3] float32. */
  weight: Float32Array;
  outChannels: number;
}

/** Reads `fooocus_inpaint_head.pth`; CheckpointError when it has no `head` of shape [C, 5, 3, 3]. */
export function loadInpaintHead(path: string): InpaintHead {
  const tensors = loadTorchStateDict(path);
  const t = tensors.get(INPAINT_HEAD_KEY);
  if (!t) throw new CheckpointError(path, 'bad_header', `no '${INPAINT_HEAD_KEY}' tensor (found ${[...tensors.keys()].slice(0, 5).join(', ') || 'none'})`);
  const [out, cin, kh, kw] = t.shape;
  if (t.shape.length !== 4 || cin !== INPAINT_HEAD_IN_CHANNELS || kh !== 3 || kw !== 3) {
    throw new CheckpointError(path, 'bad_header', `'${INPAINT_HEAD_KEY}' has shape [${t.shape.join(', ')}], expected [C, 5, 3, 3]`);
  }
  return { weight: Float32Array.from(t.float32()), outChannels: out };
}

/**
 * The head's input `cat(latent_mask, process_latent_in(latent_inpaint))` [1, 5, h, w]:
 * `scaledInpaint` is the inpaint latent already in sampling space (SDXL: ·0.13025).
 */
export function inpaintHeadFeed(latentMask: ArrayLike<number>, scaledInpaint: ArrayLike<number>, height: number, width: number): FloatTensor {
  const plane = height * width;
  if (latentMask.length !== plane) throw new RangeError(`latent mask has ${latentMask.length} values, expected ${height} × ${width}`);
  if (scaledInpaint.length !== 4 * plane) throw new RangeError(`inpaint latent has ${scaledInpaint.length} values, expected 4 × ${plane}`);
  const data = new Float32Array(INPAINT_HEAD_IN_CHANNELS * plane);
  data.set(Float32Array.from(latentMask), 0);
  data.set(Float32Array.from(scaledInpaint), plane);
  return { data, dims: [1, INPAINT_HEAD_IN_CHANNELS, height, width] };
}

/** conv2d(pad(feed, replicate 1), head) → [1, out, h, w]. `feed` is [1, 5, h, w]. */
export function inpaintHeadFeature(head: InpaintHead, feed: Float32Array, height: number, width: number): FloatTensor {
  const plane = height * width;
  if (feed.length !== INPAINT_HEAD_IN_CHANNELS * plane) throw new RangeError(`head feed has ${feed.length} values, expected 5 × ${height} × ${width}`);
  const out = new Float32Array(head.outChannels * plane);
  const acc = new Float64Array(plane);
  const clampY = (y: number) => (y < 0 ? 0 : y >= height ? height - 1 : y);
  const clampX = (x: number) => (x < 0 ? 0 : x >= width ? width - 1 : x);
  for (let o = 0; o < head.outChannels; o++) {
    acc.fill(0);
    for (let c = 0; c < INPAINT_HEAD_IN_CHANNELS; c++) {
      const src = feed.subarray(c * plane, (c + 1) * plane);
      for (let ky = 0; ky < 3; ky++) {
        for (let kx = 0; kx < 3; kx++) {
          const k = head.weight[((o * INPAINT_HEAD_IN_CHANNELS + c) * 3 + ky) * 3 + kx];
          for (let y = 0; y < height; y++) {
            const row = clampY(y + ky - 1) * width;
            const o2 = y * width;
            for (let x = 0; x < width; x++) acc[o2 + x] += k * src[row + clampX(x + kx - 1)];
          }
        }
      }
    }
    out.set(acc, o * plane);
  }
  return { data: out, dims: [1, head.outChannels, height, width] };
}
