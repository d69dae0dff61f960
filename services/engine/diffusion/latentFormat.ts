/**
 * Latent formats: how a VAE latent maps to the space the UNet samples in
 * (ComfyUI `latent_formats.py`). SDXL scales by 0.13025; Playground v2.5
 * (the `edm_playground_v2.5` scheduler in Fooocus, always with the EDM model
 * sampling) normalises each channel: in = (z − mean)·0.5/std,
 * out = x·std/0.5 + mean. The per-channel constants are float32 tensors in
 * ComfyUI, so they are used here as float32 values.
 *
 * An empty txt2img latent is zeros in VAE space, so its sampling-space form
 * is 0 for SDXL but −mean·0.5/std per channel for Playground (`latent_in`,
 * golden README §2.10; leaving it out costs 1e-3 relative on x_final).
 */
import type { Latent, ModelSamplingKind } from './types.ts';

const SDXL_SCALE = 0.13025;
const PLAYGROUND_SCALE = 0.5;
const PLAYGROUND_MEAN = [-1.6574, 1.886, -1.383, 2.5155].map(Math.fround);
const PLAYGROUND_STD = [8.4927, 5.9022, 6.5498, 5.2299].map(Math.fround);

/** Which latent format a model sampling kind implies in Fooocus (EDM only comes with Playground v2.5). */
export type LatentFormatName = 'sdxl' | 'playground_v2.5';

export function latentFormatOf(kind: ModelSamplingKind): LatentFormatName {
  return kind === 'edm' ? 'playground_v2.5' : 'sdxl';
}

/** Channel count and per-channel plane size of an NCHW shape. */
function channelLayout(shape: readonly number[], length: number): { channels: number; plane: number } {
  if (shape.length !== 4) throw new RangeError(`latent shape must be NCHW, got [${shape.join(', ')}]`);
  const [n, c, h, w] = shape;
  if (n * c * h * w !== length) throw new RangeError(`latent of ${length} values does not have shape [${shape.join(', ')}]`);
  if (c !== PLAYGROUND_MEAN.length) throw new RangeError(`Playground v2.5 latents have ${PLAYGROUND_MEAN.length} channels, got ${c}`);
  return { channels: c, plane: h * w };
}

function perChannel(
  z: ArrayLike<number>,
  shape: readonly number[],
  fn: (v: number, channel: number) => number,
): Float64Array {
  const { channels, plane } = channelLayout(shape, z.length);
  const out = new Float64Array(z.length);
  for (let i = 0; i < z.length; i++) out[i] = fn(z[i], Math.floor(i / plane) % channels);
  return out;
}

/** VAE latent → sampling space (`process_latent_in`). `shape` is NCHW. */
export function latentFromVae(z: ArrayLike<number>, kind: ModelSamplingKind, shape: readonly number[]): Float64Array {
  if (latentFormatOf(kind) === 'sdxl') return Float64Array.from(z, (v) => v * SDXL_SCALE);
  return perChannel(z, shape, (v, c) => ((v - PLAYGROUND_MEAN[c]) * PLAYGROUND_SCALE) / PLAYGROUND_STD[c]);
}

/** Sampling space → VAE latent (`process_latent_out`), the input of the VAE decoder. `shape` is NCHW. */
export function latentForVae(x: Latent, kind: ModelSamplingKind, shape: readonly number[]): Float64Array {
  if (latentFormatOf(kind) === 'sdxl') return x.map((v) => v / SDXL_SCALE);
  return perChannel(x, shape, (v, c) => (v * PLAYGROUND_STD[c]) / PLAYGROUND_SCALE + PLAYGROUND_MEAN[c]);
}

/** The empty (all-zero VAE) latent in sampling space: what txt2img adds to the initial noise. */
export function emptyLatentIn(kind: ModelSamplingKind, shape: readonly number[]): Float64Array {
  const size = shape.reduce((a, b) => a * b, 1);
  return latentFromVae(new Float64Array(size), kind, shape);
}
