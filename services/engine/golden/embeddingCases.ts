/**
 * Golden `embeddings` cases (README §2.3): the sinusoidal embedding
 * `[cos(t·f), sin(t·f)]` and SDXL's size conditioning.
 *
 * The engine computes the sinusoid in two places, and both are checked for
 * every `timestep_embedding.*` tensor (its width is the tensor's last axis):
 * inside the UNet graph (`graphs/timestepEmbedding.ts`, the ONNX subgraph fed
 * with float timesteps, run here on its own) and in TypeScript for the ADM
 * vector (`conditioning/sinusoidalEmbedding.ts`). `size_cond.embedding` is
 * `sizeEmbedding` of the six stored values, the part of `y` after the
 * pooled vector.
 */
import * as ort from 'onnxruntime-node';
import { sizeEmbedding } from '../conditioning/admConditioning.ts';
import { sinusoidalEmbedding } from '../conditioning/sinusoidalEmbedding.ts';
import { sinusoidalEmbedding as sinusoidalEmbeddingGraph } from '../graphs/timestepEmbedding.ts';
import { encodeModel, GraphBuilder } from '../onnx/graphBuilder.ts';
import type { CaseRunner } from './caseRunner.ts';

interface EmbeddingsSection {
  file: string;
  size_values?: number[];
}

const TIMESTEP_EMBEDDING_PREFIX = 'timestep_embedding.';

/** The UNet's timestep-embedding subgraph alone: float32 t [B] → [B, dim]. */
async function graphEmbedding(timesteps: Float32Array, dim: number): Promise<Float32Array> {
  const g = new GraphBuilder('timestep_embedding', 'float32');
  const t = g.input('t', 'float32', ['B']);
  g.output(sinusoidalEmbeddingGraph(g, t, dim), 'emb', 'float32', ['B', dim]);
  const session = await ort.InferenceSession.create(encodeModel(g.build().proto), { logSeverityLevel: 3 });
  try {
    const out = await session.run({ t: new ort.Tensor('float32', timesteps, [timesteps.length]) });
    return out.emb.data as Float32Array;
  } finally {
    await session.release();
  }
}

export const runEmbeddingCases: CaseRunner = async (set, c) => {
  const section = set.section<EmbeddingsSection>('embeddings');
  const file = set.file(section.file);
  const tol = set.tolerance('embeddings');
  const timesteps = file.has('timesteps') ? file.float32('timesteps') : null;

  for (const key of file.names().filter((n) => n.startsWith(TIMESTEP_EMBEDDING_PREFIX)).sort()) {
    await c.check(key, async (checks) => {
      if (!timesteps) throw new Error(`${key} needs the "timesteps" tensor`);
      const dim = file.shape(key).at(-1)!;
      const want = file.float32(key);
      checks.float('unet graph', await graphEmbedding(timesteps, dim), want, tol);
      const ts = new Float32Array(timesteps.length * dim);
      timesteps.forEach((t, i) => sinusoidalEmbedding(t, dim, ts, i * dim));
      checks.float('adm sinusoid', ts, want, tol);
    });
  }

  if (file.has('size_cond.embedding')) {
    await c.check('size_cond', (checks) => {
      const values = file.has('size_cond.values') ? Array.from(file.float32('size_cond.values')) : section.size_values;
      if (!values) throw new Error('size_cond.embedding needs size_cond.values');
      if (section.size_values) checks.exact('size_values (cases.json vs tensor)', values, section.size_values);
      checks.float('size_cond.embedding', sizeEmbedding(values), file.float32('size_cond.embedding'), tol);
    });
  }
};
