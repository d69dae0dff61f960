/**
 * The end of every golden run (README §2.7, §2.10): the sampler's output in
 * VAE space (`latent_for_vae`: /0.13025 for SDXL, the Playground-2.5 format
 * for EDM runs), the VAE decode of it (`image`, unclamped), and the 8-bit
 * image (`image_u8`, HWC RGB, truncation), by the functions the engine
 * uses: `latentForVae`, the VAE decoder graph, `imageToRgb8`.
 *
 * With `viaPipeline` the 8-bit image comes from the pipeline's own
 * `decodeLatent` (the call the engine makes before encoding a PNG), which
 * costs a second VAE decode because it hands out bytes only; the end-to-end
 * runs use it so that composition is covered, the other runs decode once.
 */
import { latentForVae } from '../diffusion/latentFormat.ts';
import type { Latent, ModelSamplingKind } from '../diffusion/types.ts';
import { imageToRgb8 } from '../image/pixels.ts';
import { decodeLatent } from '../pipeline/textToImage.ts';
import type { LoadedCheckpoint } from '../runtime/loadedCheckpoint.ts';
import type { CaseChecks, U8Rule } from './caseChecks.ts';
import type { Tolerance } from './compare.ts';
import type { CaseFile } from './goldenSet.ts';

export interface ImageTolerances {
  latentForVae: Tolerance;
  image: Tolerance;
  u8: U8Rule;
}

export interface DecodeOptions {
  /** Take `image_u8` from `decodeLatent` (a second decode); default false. */
  viaPipeline?: boolean;
}

export async function checkDecodedImage(
  checks: CaseChecks,
  model: LoadedCheckpoint,
  xFinal: Latent,
  kind: ModelSamplingKind,
  shape: readonly number[],
  file: CaseFile,
  tol: ImageTolerances,
  opts: DecodeOptions = {},
): Promise<void> {
  const z = latentForVae(xFinal, kind, shape);
  if (file.has('latent_for_vae')) checks.float('latent_for_vae', z, file.float32('latent_for_vae'), tol.latentForVae);
  const image = await model.decode({ data: Float32Array.from(z), dims: shape });
  if (file.has('image')) checks.float('image', image.data, file.float32('image'), tol.image);
  if (file.has('image_u8')) {
    const [, , h, w] = image.dims;
    const rgb = opts.viaPipeline ? (await decodeLatent(model, xFinal, kind, shape)).rgb : imageToRgb8(image.data, h, w);
    checks.u8('image_u8', rgb, file.u8('image_u8'), tol.u8);
  }
}
