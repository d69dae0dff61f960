import { readFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { compareArrays } from '../../golden/compare.ts';
import { openSafetensors } from '../../io/safetensors.ts';
import { discreteEpsSampling } from '../modelSampling.ts';
import { goldenDir } from '../samplers/testSupport/goldenData.ts';
import { ddimUniformSigmas } from './ddimUniform.ts';
import { karrasSigmas } from './karras.ts';
import { schedulerSigmas, type SamplingSchedulerName } from './schedulerSigmas.ts';

const schedules = (
  JSON.parse(readFileSync(path.join(goldenDir, 'cases.json'), 'utf8')) as {
    cases: { schedules: { values: Record<string, number[]>; sigma_min: number; sigma_max: number } };
  }
).cases.schedules;
const file = openSafetensors(path.join(goldenDir, 'cases/schedules.safetensors'));
afterAll(() => file.close());

const keys = Object.keys(schedules.values);
const ms = discreteEpsSampling();

describe('schedulers against golden schedules (README §2.6)', () => {
  it('covers karras, exponential, normal, simple and sgm_uniform at 4, 8 and 30 steps', () => {
    expect(keys).toHaveLength(15);
  });

  it.each(keys)('%s within rtol 1e-5, atol 1e-6 of the stored tensor and the cases.json list', (key) => {
    const [name, steps] = key.split('.');
    const got = schedulerSigmas(name as SamplingSchedulerName, ms, Number(steps));
    const tensor = compareArrays(got, file.float32(key), { rtol: 1e-5, atol: 1e-6 });
    expect(tensor.ok, `${key}: max |Δ| ${tensor.maxAbs}`).toBe(true);
    // Computed as torch does in float32: within an ulp (1.2e-7 relative).
    expect(tensor.maxRel).toBeLessThan(2.4e-7);
    expect(compareArrays(got, schedules.values[key], { rtol: 1e-5, atol: 1e-6 }).ok).toBe(true);
    expect(got[got.length - 1]).toBe(0);
  });

  it('karras starts and ends at the float32 round trip (σ^(1/7))^7 of the table ends', () => {
    const got = karrasSigmas(4, schedules.sigma_min, schedules.sigma_max);
    expect(got[0]).toBe(14.614643096923828);
    expect(got[3]).toBe(0.0291671771556139);
  });

  it('ddim_uniform takes table entries 1, 1+s, … in reverse and overshoots when s does not divide 1000', () => {
    const four = ddimUniformSigmas(ms, 4);
    expect(Array.from(four)).toEqual([ms.sigmas[751], ms.sigmas[501], ms.sigmas[251], ms.sigmas[1], 0]);
    expect(ddimUniformSigmas(ms, 30)).toHaveLength(32);
  });
});
