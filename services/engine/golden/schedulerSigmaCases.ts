/**
 * Golden `scheduler_sigmas` (README §2.11, recipe §4.5a): the sigmas Fooocus
 * samples with for every scheduler name, step count, denoise strength and
 * sampler family, and the UNet timesteps they give.
 *
 * One case per `<scheduler>.n<steps>.<variant>`: the `sampling.*` items of
 * every denoise value (`fooocusSamplingSigmas`, compared with the stored
 * tensor and the `cases.json` list, plus the scheduler actually used, the one
 * Fooocus asked for and the model sampling), and the `timesteps.*` tensor of
 * the denoise-1 list (exact, except a flagged tie resolved to its other
 * candidate; EDM timesteps are fractional). One case per
 * `fooocus_calculate_sigmas.<scheduler>.n<steps>` (Fooocus' log-line /
 * Brownian-range list, `fooocusCalculateSigmas`), and one per model table
 * (`model_sigmas.distilled50`, `model_sigmas.edm`, `model_alphas_cumprod`).
 *
 * The variant only decides the discard-penultimate rule, so it is run with a
 * representative sampler: `euler` for `plain`, `dpm_2` for
 * `discard_penultimate` (README: dpm_2, dpm_2_ancestral, uni_pc, uni_pc_bh2).
 */
import { discreteEpsSampling, distilledSampling, edmSampling } from '../diffusion/modelSampling.ts';
import { fooocusCalculateSigmas, fooocusSamplingSigmas } from '../diffusion/samplingSigmas.ts';
import type { ModelSampling } from '../diffusion/types.ts';
import type { CaseChecks } from './caseChecks.ts';
import type { CaseRunner } from './caseRunner.ts';
import type { Tolerance } from './compare.ts';
import { modelSamplingKind } from './samplerReplay.ts';

/** One `scheduler_sigmas` item of cases.json. */
export interface SchedulerSigmaItem {
  key: string;
  scheduler: string;
  steps: number;
  denoise: number;
  variant: string;
  scheduler_used?: string;
  scheduler_requested_by_fooocus?: string;
  model_sampling?: string;
  values: number[];
  timesteps?: number[];
  timestep_ties?: { index: number; t: number; t_other: number }[];
}

interface SchedulerSigmasSection {
  file: string;
  items: SchedulerSigmaItem[];
  tensors: Record<string, unknown>;
}

/** A sampler name that selects each variant (any sampler outside the discarding four samples `plain`). */
export const SAMPLER_FOR_VARIANT: Readonly<Record<string, string>> = {
  plain: 'euler',
  discard_penultimate: 'dpm_2',
  calculate_sigmas_only: 'euler',
};

/** The model tables the file stores, by tensor name. */
const MODEL_TABLES: Record<string, () => Float64Array> = {
  'model_sigmas.distilled50': () => distilledSampling('distilled_eps').sigmas,
  'model_sigmas.edm': () => edmSampling().sigmas,
  model_alphas_cumprod: () => discreteEpsSampling().alphasCumprod,
};

/** README §3: EDM timesteps (0.25·ln σ) are fractional. */
const EDM_TIMESTEP_TOLERANCE: Tolerance = { atol: 1e-5 };

const groupKey = (i: SchedulerSigmaItem) => `${i.scheduler}.n${i.steps}.${i.variant}`;

function groupBy<T>(items: T[], key: (t: T) => string): Map<string, T[]> {
  const out = new Map<string, T[]>();
  for (const item of items) out.set(key(item), [...(out.get(key(item)) ?? []), item]);
  return out;
}

function samplerFor(variant: string): string {
  const sampler = SAMPLER_FOR_VARIANT[variant];
  if (!sampler) throw new Error(`unknown variant ${variant}`);
  return sampler;
}

/** Timesteps of the nonzero sigmas: exact, or a flagged tie's other candidate (noted). */
function checkTimesteps(checks: CaseChecks, label: string, sigmas: Float64Array, ms: ModelSampling, want: ArrayLike<number>, item: SchedulerSigmaItem): void {
  const got = Array.from(sigmas.filter((s) => s > 0), (s) => ms.timestep(s));
  for (let i = 0; i < Math.min(got.length, want.length); i++) {
    const tie = item.timestep_ties?.find((t) => t.index === i && t.t_other === got[i] && t.t === want[i]);
    if (got[i] !== want[i] && tie) {
      checks.note(`flagged tie at index ${i}: t ${got[i]} instead of ${want[i]} (accepted)`);
      got[i] = want[i];
    }
  }
  checks.float(label, got, want, ms.kind === 'edm' ? EDM_TIMESTEP_TOLERANCE : { atol: 0, rtol: 0 });
}

export const runSchedulerSigmaCases: CaseRunner = async (set, c) => {
  const section = set.section<SchedulerSigmasSection>('scheduler_sigmas');
  const file = set.file(section.file);
  const tol = set.tolerance('scheduler_sigmas');
  const want = (item: SchedulerSigmaItem) => (file.has(item.key) ? file.float32(item.key) : Float32Array.from(item.values));

  const sampling = section.items.filter((i) => i.key.startsWith('sampling.'));
  const timestepsChecked = new Set<string>();
  for (const [group, items] of groupBy(sampling, groupKey)) {
    await c.check(`sampling ${group}`, (checks) => {
      for (const item of items) {
        const plan = fooocusSamplingSigmas({ scheduler: item.scheduler, steps: item.steps, denoise: item.denoise, sampler: samplerFor(item.variant) });
        checks.float(item.key, plan.sigmas, want(item), tol);
        checks.float(`${item.key} (cases.json)`, plan.sigmas, item.values, tol);
        if (item.scheduler_used) checks.require(`${item.key} scheduler_used`, plan.schedulerUsed === item.scheduler_used, `${plan.schedulerUsed}, recorded ${item.scheduler_used}`);
        if (item.scheduler_requested_by_fooocus) {
          checks.require(`${item.key} scheduler_requested_by_fooocus`, plan.schedulerRequested === item.scheduler_requested_by_fooocus, `${plan.schedulerRequested}, recorded ${item.scheduler_requested_by_fooocus}`);
        }
        if (item.model_sampling) {
          checks.require(`${item.key} model_sampling`, plan.modelSampling.kind === modelSamplingKind(item.model_sampling), `${plan.modelSampling.kind}, recorded ${item.model_sampling}`);
        }
        if (item.denoise === 1) {
          const timestepsKey = `timesteps.${group}`;
          timestepsChecked.add(timestepsKey);
          if (file.has(timestepsKey)) checkTimesteps(checks, timestepsKey, plan.sigmas, plan.modelSampling, file.float32(timestepsKey), item);
          if (item.timesteps) checkTimesteps(checks, `${timestepsKey} (cases.json)`, plan.sigmas, plan.modelSampling, item.timesteps, item);
        }
      }
    });
  }

  const calculated = section.items.filter((i) => i.key.startsWith('fooocus_calculate_sigmas.'));
  for (const [group, items] of groupBy(calculated, (i) => `${i.scheduler}.n${i.steps}`)) {
    await c.check(`fooocus_calculate_sigmas ${group}`, (checks) => {
      for (const item of items) {
        const got = fooocusCalculateSigmas({ scheduler: item.scheduler, steps: item.steps, denoise: item.denoise, sampler: samplerFor(item.variant) });
        checks.float(item.key, got, want(item), tol);
        checks.float(`${item.key} (cases.json)`, got, item.values, tol);
      }
    });
  }

  const itemKeys = new Set(section.items.map((i) => i.key));
  for (const key of Object.keys(section.tensors)) {
    if (itemKeys.has(key) || timestepsChecked.has(key)) continue;
    if (key.startsWith('timesteps.')) {
      c.skip(key, 'no denoise-1 sampling item to derive it from');
      continue;
    }
    const table = MODEL_TABLES[key];
    if (!table) {
      c.skip(key, 'not supported');
      continue;
    }
    await c.check(key, (checks) => {
      checks.float(key, table(), file.float32(key), tol);
    });
  }
};
