import { readFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { compareArrays } from '../golden/compare.ts';
import { modelSamplingKind } from '../golden/samplerReplay.ts';
import { SAMPLER_FOR_VARIANT, type SchedulerSigmaItem } from '../golden/schedulerSigmaCases.ts';
import { EngineInputError } from '../io/engineErrors.ts';
import { openSafetensors } from '../io/safetensors.ts';
import {
  FOOOCUS_SCHEDULER_NAMES,
  fooocusCalculateSigmas,
  fooocusSamplingSigmas,
  UnknownSchedulerError,
} from './samplingSigmas.ts';
import { goldenDir } from './samplers/testSupport/goldenData.ts';

const items = (
  JSON.parse(readFileSync(path.join(goldenDir, 'cases.json'), 'utf8')) as {
    cases: { scheduler_sigmas: { items: SchedulerSigmaItem[] } };
  }
).cases.scheduler_sigmas.items;
const file = openSafetensors(path.join(goldenDir, 'cases/scheduler_sigmas.safetensors'));
afterAll(() => file.close());

const TOLERANCE = { rtol: 1e-5, atol: 1e-6 };

const samplingItems = items.filter((i) => i.key.startsWith('sampling.'));
const calculateItems = items.filter((i) => i.key.startsWith('fooocus_calculate_sigmas.'));

describe('fooocusSamplingSigmas against golden scheduler_sigmas (README §2.11)', () => {
  it('covers 11 schedulers × 3 step counts × 2 variants × 4 denoise strengths', () => {
    expect(samplingItems).toHaveLength(264);
    expect(new Set(samplingItems.map((i) => i.scheduler))).toEqual(new Set(FOOOCUS_SCHEDULER_NAMES));
  });

  it.each(samplingItems)('$key', (item) => {
    const got = fooocusSamplingSigmas({
      scheduler: item.scheduler,
      steps: item.steps,
      denoise: item.denoise,
      sampler: SAMPLER_FOR_VARIANT[item.variant],
    });
    expect(got.schedulerUsed).toBe(item.scheduler_used);
    expect(got.schedulerRequested).toBe(item.scheduler_requested_by_fooocus);
    expect(got.modelSampling.kind).toBe(modelSamplingKind(item.model_sampling!));
    expect(got.sigmas).toHaveLength(item.steps + 1);
    const cmp = compareArrays(got.sigmas, file.float32(item.key), TOLERANCE);
    expect(cmp.ok, `${item.key}: max |Δ| ${cmp.maxAbs}`).toBe(true);
    expect(compareArrays(got.sigmas, item.values, TOLERANCE).ok).toBe(true);
  });

  const timestepItems = samplingItems.filter((i) => i.timesteps);
  it.each(timestepItems)('timesteps of $key (flagged ties included)', (item) => {
    const { sigmas, modelSampling } = fooocusSamplingSigmas({
      scheduler: item.scheduler,
      steps: item.steps,
      sampler: SAMPLER_FOR_VARIANT[item.variant],
    });
    const want = file.float32(item.key.replace(/^sampling\./, 'timesteps.'));
    const got = Array.from(sigmas.subarray(0, sigmas.length - 1), (s) => modelSampling.timestep(s));
    if (modelSampling.kind === 'edm') {
      expect(compareArrays(got, want, { atol: 1e-5 }).ok).toBe(true);
    } else {
      // Quantised timesteps are exact, including the README's flagged ties.
      expect(got).toEqual(Array.from(want));
      for (const tie of item.timestep_ties ?? []) expect(got[tie.index]).toBe(tie.t);
    }
  });

  it('samples turbo and align_your_steps with the normal schedule', () => {
    for (const scheduler of ['turbo', 'align_your_steps']) {
      const got = fooocusSamplingSigmas({ scheduler, steps: 8, sampler: 'euler' });
      expect(got.schedulerUsed).toBe('normal');
      expect(Array.from(got.sigmas)).toEqual(Array.from(fooocusSamplingSigmas({ scheduler: 'normal', steps: 8, sampler: 'euler' }).sigmas));
    }
  });

  it('drops the penultimate sigma of an n + 1 schedule for dpm_2, dpm_2_ancestral, uni_pc and uni_pc_bh2 only', () => {
    const longer = fooocusSamplingSigmas({ scheduler: 'karras', steps: 5, sampler: 'euler' }).sigmas;
    const expected = [...Array.from(longer.subarray(0, 4)), 0];
    for (const sampler of ['dpm_2', 'dpm_2_ancestral', 'uni_pc', 'uni_pc_bh2']) {
      expect(Array.from(fooocusSamplingSigmas({ scheduler: 'karras', steps: 4, sampler }).sigmas)).toEqual(expected);
    }
    const plain = fooocusSamplingSigmas({ scheduler: 'karras', steps: 4, sampler: 'no_such_sampler' }).sigmas;
    expect(plain).toHaveLength(5);
    expect(plain[3]).toBeCloseTo(0.0291671771556139, 12);
  });

  it('cuts ddim_uniform at 30 steps (31 table entries) to 31 values ending in 0', () => {
    const { sigmas } = fooocusSamplingSigmas({ scheduler: 'ddim_uniform', steps: 30, sampler: 'euler' });
    expect(sigmas).toHaveLength(31);
    expect(sigmas[30]).toBe(0);
    expect(sigmas[29]).toBeGreaterThan(0);
  });

  it('rejects an unknown scheduler name with an error naming it', () => {
    const attempt = () => fooocusSamplingSigmas({ scheduler: 'beta', steps: 4, sampler: 'euler' });
    expect(attempt).toThrow(UnknownSchedulerError);
    expect(attempt).toThrow(EngineInputError);
    expect(attempt).toThrow(/"beta"/);
    try {
      attempt();
    } catch (e) {
      expect((e as UnknownSchedulerError).scheduler).toBe('beta');
    }
  });

  it('rejects steps below 1 and denoise outside (0, 1]', () => {
    expect(() => fooocusSamplingSigmas({ scheduler: 'karras', steps: 0, sampler: 'euler' })).toThrow(EngineInputError);
    expect(() => fooocusSamplingSigmas({ scheduler: 'karras', steps: 4, denoise: 0, sampler: 'euler' })).toThrow(EngineInputError);
    expect(() => fooocusSamplingSigmas({ scheduler: 'karras', steps: 4, denoise: 1.5, sampler: 'euler' })).toThrow(EngineInputError);
  });
});

describe("fooocusCalculateSigmas (Fooocus' log line and Brownian range)", () => {
  it('covers turbo and align_your_steps at every step count and denoise', () => {
    expect(calculateItems).toHaveLength(24);
  });

  it.each(calculateItems)('$key', (item) => {
    const got = fooocusCalculateSigmas({ scheduler: item.scheduler, steps: item.steps, denoise: item.denoise, sampler: 'euler' });
    const cmp = compareArrays(got, file.float32(item.key), TOLERANCE);
    expect(cmp.ok, `${item.key}: max |Δ| ${cmp.maxAbs}`).toBe(true);
    expect(compareArrays(got, item.values, TOLERANCE).ok).toBe(true);
  });

  it('agrees with the sampled list for the six core schedulers', () => {
    const sampled = fooocusSamplingSigmas({ scheduler: 'exponential', steps: 8, denoise: 0.5, sampler: 'euler' }).sigmas;
    expect(Array.from(fooocusCalculateSigmas({ scheduler: 'exponential', steps: 8, denoise: 0.5, sampler: 'euler' }))).toEqual(Array.from(sampled));
  });
});
