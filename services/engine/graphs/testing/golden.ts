/**
 * Test support for the graph tests: golden-set paths, graph → ORT session,
 * and the README §3 closeness check (|got − want| ≤ atol + rtol·|want|,
 * elementwise), which reports the worst errors so a failure says by how much.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as ort from 'onnxruntime-node';
import { compareArrays } from '../../golden/compare.ts';
import { halfToFloat } from '../../io/half.ts';
import type { BuiltModel } from '../../onnx/graphBuilder.ts';
import { saveModel } from '../../onnx/saveModel.ts';

export const GOLDEN_DIR = '/work/shared/golden';
export const TINY_CHECKPOINT = join(GOLDEN_DIR, 'tiny-sdxl.safetensors');
export const goldenCase = (name: string) => join(GOLDEN_DIR, 'cases', `${name}.safetensors`);

/**
 * One temp directory per test file: every graph saved there shares one link
 * (or, across filesystems, one copy) of the checkpoint.
 */
export function graphDir(): { dir: string; remove(): void } {
  const dir = mkdtempSync(join(tmpdir(), 'fooocus-graphs-'));
  return { dir, remove: () => rmSync(dir, { recursive: true, force: true }) };
}

export async function openSession(model: BuiltModel, dir: string, fileName: string): Promise<ort.InferenceSession> {
  const { modelPath } = saveModel(model, dir, fileName);
  return ort.InferenceSession.create(modelPath, { logSeverityLevel: 3 });
}

/** Float values of an output tensor, whether it came back as float32 or as fp16 bits. */
export function floats(t: ort.Tensor): Float32Array {
  if (t.type === 'float32') return t.data as Float32Array;
  if (t.type === 'float16') return Float32Array.from(t.data as Uint16Array, halfToFloat);
  throw new Error(`tensor of type ${t.type} is not float`);
}

export interface Closeness {
  /** Largest |got − want|. */
  maxAbs: number;
  /** maxAbs / max|want| (the README's "rel"). */
  rel: number;
  /** Elements outside atol + rtol·|want|. */
  failures: number;
}

export function closeness(got: ArrayLike<number>, want: ArrayLike<number>, tol: { rtol?: number; atol: number }): Closeness {
  if (got.length !== want.length) throw new Error(`length ${got.length} != ${want.length}`);
  // The golden runner's comparison (NaN counts as a failure there too).
  const c = compareArrays(got, want, tol);
  return { maxAbs: c.maxAbs, rel: c.maxRel, failures: c.bad };
}
