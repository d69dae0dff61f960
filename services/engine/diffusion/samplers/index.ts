/**
 * The sampler names Fooocus / FooocusAPI accept (`modules/flags.py`), mapped to
 * what Fooocus actually runs for each:
 *
 * - `ddim` runs k-diffusion's Euler (KSampler maps it to `sample_euler`; the
 *   golden `ddim` run equals `euler` bit for bit);
 * - every `X_gpu` name runs the same function as `X` (Fooocus installs one
 *   global Brownian tree for both, so the golden `_gpu` runs equal the CPU ones);
 * - an unknown name runs as Euler, as Fooocus does (its API does not reject
 *   other strings).
 *
 * `noise` says what kind of noise source the caller must put in
 * `SamplerOptions.noise`: `brownian` samplers query overlapping or arbitrary
 * intervals and need a Brownian path, `iid` ones take one fresh normal tensor
 * per request, `none` never ask.
 */
import type { SamplerFn } from '../types.ts';
import { sampleDdpm } from './ddpm.ts';
import { sampleDpm2 } from './dpm2.ts';
import { sampleDpm2Ancestral } from './dpm2Ancestral.ts';
import { sampleDpmAdaptive } from './dpmAdaptive.ts';
import { sampleDpmFast } from './dpmFast.ts';
import { sampleDpmpp2m } from './dpmpp2m.ts';
import { sampleDpmpp2mSde } from './dpmpp2mSde.ts';
import { sampleDpmpp2sAncestral } from './dpmpp2sAncestral.ts';
import { sampleDpmpp3mSde } from './dpmpp3mSde.ts';
import { sampleDpmppSde } from './dpmppSde.ts';
import { sampleEuler } from './euler.ts';
import { sampleEulerAncestral } from './eulerAncestral.ts';
import { sampleHeun } from './heun.ts';
import { sampleHeunpp2 } from './heunpp2.ts';
import { sampleLcm } from './lcm.ts';
import { sampleLms } from './lms.ts';
import { sampleRestart } from './restart.ts';
import { sampleTcd } from './tcd.ts';
import { sampleUniPc, sampleUniPcBh2 } from './uniPc.ts';

export const SAMPLER_NAMES = [
  'euler',
  'euler_ancestral',
  'heun',
  'heunpp2',
  'dpm_2',
  'dpm_2_ancestral',
  'lms',
  'dpm_fast',
  'dpm_adaptive',
  'dpmpp_2s_ancestral',
  'dpmpp_sde',
  'dpmpp_sde_gpu',
  'dpmpp_2m',
  'dpmpp_2m_sde',
  'dpmpp_2m_sde_gpu',
  'dpmpp_3m_sde',
  'dpmpp_3m_sde_gpu',
  'ddpm',
  'lcm',
  'tcd',
  'restart',
  'ddim',
  'uni_pc',
  'uni_pc_bh2',
] as const;

export type SamplerName = (typeof SAMPLER_NAMES)[number];

export type SamplerNoiseKind = 'none' | 'iid' | 'brownian';

export interface SamplerEntry {
  /** The Fooocus name this entry resolved from (`euler` for unknown names). */
  name: SamplerName;
  run: SamplerFn;
  noise: SamplerNoiseKind;
}

const REGISTRY: Record<SamplerName, Omit<SamplerEntry, 'name'>> = {
  euler: { run: sampleEuler, noise: 'none' },
  euler_ancestral: { run: sampleEulerAncestral, noise: 'iid' },
  heun: { run: sampleHeun, noise: 'none' },
  heunpp2: { run: sampleHeunpp2, noise: 'none' },
  dpm_2: { run: sampleDpm2, noise: 'none' },
  dpm_2_ancestral: { run: sampleDpm2Ancestral, noise: 'iid' },
  lms: { run: sampleLms, noise: 'none' },
  dpm_fast: { run: sampleDpmFast, noise: 'none' },
  dpm_adaptive: { run: sampleDpmAdaptive, noise: 'none' },
  dpmpp_2s_ancestral: { run: sampleDpmpp2sAncestral, noise: 'iid' },
  dpmpp_sde: { run: sampleDpmppSde, noise: 'brownian' },
  dpmpp_sde_gpu: { run: sampleDpmppSde, noise: 'brownian' },
  dpmpp_2m: { run: sampleDpmpp2m, noise: 'none' },
  dpmpp_2m_sde: { run: sampleDpmpp2mSde, noise: 'brownian' },
  dpmpp_2m_sde_gpu: { run: sampleDpmpp2mSde, noise: 'brownian' },
  dpmpp_3m_sde: { run: sampleDpmpp3mSde, noise: 'brownian' },
  dpmpp_3m_sde_gpu: { run: sampleDpmpp3mSde, noise: 'brownian' },
  ddpm: { run: sampleDdpm, noise: 'iid' },
  lcm: { run: sampleLcm, noise: 'iid' },
  tcd: { run: sampleTcd, noise: 'iid' },
  restart: { run: sampleRestart, noise: 'iid' },
  ddim: { run: sampleEuler, noise: 'none' },
  uni_pc: { run: sampleUniPc, noise: 'none' },
  uni_pc_bh2: { run: sampleUniPcBh2, noise: 'none' },
};

export function isSamplerName(name: string): name is SamplerName {
  return Object.hasOwn(REGISTRY, name);
}

/** The sampler Fooocus would run for this name (unknown names → euler). */
export function resolveSampler(name: string): SamplerEntry {
  const resolved: SamplerName = isSamplerName(name) ? name : 'euler';
  return { name: resolved, ...REGISTRY[resolved] };
}
