/**
 * Golden `schedules` cases (README §2.6): the SDXL discrete sigma table the
 * engine's model sampling holds, and each `<scheduler>.<steps>` list of the
 * sampler core's schedulers (`schedulerSigmas`) at that step count, checked
 * against both the stored tensor and the list in `cases.json`.
 */
import { discreteEpsSampling } from '../diffusion/modelSampling.ts';
import { SAMPLING_SCHEDULER_NAMES, schedulerSigmas, type SamplingSchedulerName } from '../diffusion/schedulers/schedulerSigmas.ts';
import type { CaseRunner } from './caseRunner.ts';

interface SchedulesSection {
  file: string;
  sigma_min?: number;
  sigma_max?: number;
  values?: Record<string, number[]>;
  tensors: Record<string, unknown>;
}

const TABLE_KEYS = ['model_sigmas', 'model_log_sigmas'];

const isSamplingSchedulerName = (name: string): name is SamplingSchedulerName => (SAMPLING_SCHEDULER_NAMES as readonly string[]).includes(name);

export const runScheduleCases: CaseRunner = async (set, c) => {
  const section = set.section<SchedulesSection>('schedules');
  const file = set.file(section.file);
  const tol = set.tolerance('schedules');
  const ms = discreteEpsSampling();

  if (file.has('model_sigmas')) {
    await c.check('model_sigmas', (checks) => {
      checks.float('model_sigmas', ms.sigmas, file.float32('model_sigmas'), tol);
      if (file.has('model_log_sigmas')) checks.float('model_log_sigmas', ms.sigmas.map(Math.log), file.float32('model_log_sigmas'), tol);
      if (section.sigma_min !== undefined) checks.float('sigma_min', [ms.sigmaMin], [section.sigma_min], tol);
      if (section.sigma_max !== undefined) checks.float('sigma_max', [ms.sigmaMax], [section.sigma_max], tol);
    });
  }

  for (const key of Object.keys(section.tensors).filter((k) => !TABLE_KEYS.includes(k))) {
    await c.check(key, (checks) => {
      const dot = key.lastIndexOf('.');
      const name = key.slice(0, dot);
      const steps = Number(key.slice(dot + 1));
      if (!isSamplingSchedulerName(name) || !Number.isInteger(steps)) throw new Error(`${key} is not <scheduler>.<steps> of a known scheduler`);
      const got = schedulerSigmas(name, ms, steps);
      checks.float(key, got, file.float32(key), tol);
      const listed = section.values?.[key];
      if (listed) checks.float(`${key} (cases.json)`, got, listed, tol);
    });
  }
};
