/**
 * The schedulers ComfyUI's sampler core knows (`calculate_sigmas_scheduler`
 * in Fooocus' `ldm_patched/modules/samplers.py`), by name. Every list is
 * steps sigmas (more for ddim_uniform) followed by a 0.
 */
import type { ModelSampling } from '../types.ts';
import { ddimUniformSigmas } from './ddimUniform.ts';
import { exponentialSigmas } from './exponential.ts';
import { karrasSigmas } from './karras.ts';
import { normalSigmas, sgmUniformSigmas } from './normal.ts';
import { simpleSigmas } from './simple.ts';

export const SAMPLING_SCHEDULER_NAMES = ['normal', 'karras', 'exponential', 'sgm_uniform', 'simple', 'ddim_uniform'] as const;
export type SamplingSchedulerName = (typeof SAMPLING_SCHEDULER_NAMES)[number];

/** `steps` sigmas of the named schedule over `ms` (karras/exponential between its table ends), then 0. */
export function schedulerSigmas(name: SamplingSchedulerName, ms: ModelSampling, steps: number): Float64Array {
  switch (name) {
    case 'karras':
      return karrasSigmas(steps, ms.sigmaMin, ms.sigmaMax);
    case 'exponential':
      return exponentialSigmas(steps, ms.sigmaMin, ms.sigmaMax);
    case 'normal':
      return normalSigmas(ms, steps);
    case 'sgm_uniform':
      return sgmUniformSigmas(ms, steps);
    case 'simple':
      return simpleSigmas(ms, steps);
    case 'ddim_uniform':
      return ddimUniformSigmas(ms, steps);
    default: {
      const never: never = name;
      throw new Error(`unknown sampling scheduler ${String(never)}`);
    }
  }
}
