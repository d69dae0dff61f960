/**
 * ComfyUI "simple": n entries of the model's own sigma table, taken from the
 * top at a float stride of len/n (`sigmas[-(1 + int(x·ss))]`), plus a final 0.
 * The stride is multiplied in float64 exactly as Python does, so the index
 * truncation matches for every n.
 */
import type { ModelSampling } from '../types.ts';

export function simpleSigmas(ms: ModelSampling, n: number): Float64Array {
  const table = ms.sigmas;
  const stride = table.length / n;
  const out = new Float64Array(n + 1);
  for (let x = 0; x < n; x++) out[x] = table[table.length - 1 - Math.trunc(x * stride)];
  return out;
}
