/**
 * Golden `vae` cases (README §2.5) through the checkpoint's VAE graphs as the
 * engine loads them: `decode` maps the raw first-stage latent (already
 * divided by the scale factor) to the unclamped image; `encode` returns the
 * moments, mean in the first half of the channels and logvar in the second.
 */
import type { CaseRunner } from './caseRunner.ts';

interface VaeSection {
  file: string;
}

export const runVaeCases: CaseRunner = async (set, c) => {
  const section = set.section<VaeSection>('vae');
  const file = set.file(section.file);
  const tol = set.tolerance('vae');

  if (file.has('decode.z')) {
    await c.check('decode', async (checks) => {
      const model = await set.checkpoint();
      const image = await model.decode({ data: file.float32('decode.z'), dims: file.shape('decode.z') });
      checks.require('decode.image shape', sameShape(image.dims, file.shape('decode.image')), `shape [${image.dims.join(',')}], expected [${file.shape('decode.image').join(',')}]`);
      checks.float('decode.image', image.data, file.float32('decode.image'), tol);
    });
  }

  if (file.has('encode.image')) {
    await c.check('encode', async (checks) => {
      const model = await set.checkpoint();
      const moments = await model.encode({ data: file.float32('encode.image'), dims: file.shape('encode.image') });
      const { mean, logvar } = splitMoments(moments.data, moments.dims);
      checks.float('encode.mean', mean, file.float32('encode.mean'), tol);
      checks.float('encode.logvar', logvar, file.float32('encode.logvar'), tol);
    });
  }
};

function sameShape(a: readonly number[], b: readonly number[]): boolean {
  return a.length === b.length && a.every((v, i) => v === b[i]);
}

/** [B, 2z, h, w] moments → mean and logvar, each [B, z, h, w] (per sample: first z channels, then z). */
function splitMoments(data: Float32Array, dims: readonly number[]): { mean: Float32Array; logvar: Float32Array } {
  const batch = dims[0];
  const sample = data.length / batch;
  const half = sample / 2;
  const mean = new Float32Array(batch * half);
  const logvar = new Float32Array(batch * half);
  for (let b = 0; b < batch; b++) {
    mean.set(data.subarray(b * sample, b * sample + half), b * half);
    logvar.set(data.subarray(b * sample + half, (b + 1) * sample), b * half);
  }
  return { mean, logvar };
}
