/**
 * Test-only access to the golden data the sampler and guidance tests replay
 * (golden README §2.7, §2.9, §2.10): the records of `cases.json` they read and
 * the case tensors as float64 latents. The golden set lives outside the
 * repository (`FOOOCUS_SHARED`, default `<repo>/../shared`), so the tests
 * locate it here, once.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { openSafetensors, type SafetensorsFile } from '../../../io/safetensors.ts';

const repoRoot = fileURLToPath(new URL('../../../../../', import.meta.url));

export const goldenDir = path.join(process.env.FOOOCUS_SHARED ?? path.resolve(repoRoot, '../shared'), 'golden');

export interface NoiseCall {
  k: number;
  source: string;
  sigma: number | null;
  sigma_next: number | null;
}

/** One `cases.sampler_runs.runs.<run>` record (the fields the replay reads). */
export interface SamplerRunRecord {
  file: string;
  sampler: string;
  scheduler: string;
  model_sampling: 'discrete_eps' | 'distilled_eps' | 'distilled_lcm' | 'edm_playground_v2.5';
  steps: number;
  cfg: number;
  n_evals: number;
  sigmas: number[];
  eval_sigmas: number[];
  noise_calls: NoiseCall[];
  callbacks: { i: number; after_eval: number }[];
  lms_coeffs?: number[][];
  solver_steps?: { order: number; t: number; t_next: number; r1: number | null }[];
  tcd_timesteps_s?: number[];
  tcd_alpha_prod_s?: number[];
  restart_step_list?: [number, number][];
  timestep_ties?: unknown[];
}

/** One `cases.fooocus_cfg.items` entry (golden README §2.9). */
export interface FooocusCfgItem {
  case: number;
  cfg: number;
  sharpness: number;
  adaptive_cfg: number;
  progress: number;
  alpha: number;
}

interface CasesJson {
  cases: {
    sampler_runs: { runs: Record<string, SamplerRunRecord> };
    fooocus_cfg: { file: string; items: FooocusCfgItem[] };
  };
}

let cases: CasesJson | undefined;

export function goldenCases(): CasesJson {
  cases ??= JSON.parse(readFileSync(path.join(goldenDir, 'cases.json'), 'utf8')) as CasesJson;
  return cases;
}

export function samplerRuns(): Record<string, SamplerRunRecord> {
  return goldenCases().cases.sampler_runs.runs;
}

/** A golden tensor file whose float tensors come back as float64 latents. */
export class GoldenTensors {
  private readonly file: SafetensorsFile;

  constructor(relativePath: string) {
    this.file = openSafetensors(path.join(goldenDir, relativePath));
  }

  has(name: string): boolean {
    return this.file.has(name);
  }

  latent(name: string): Float64Array {
    return Float64Array.from(this.file.float32(name));
  }

  scalar(name: string): number {
    return this.file.float32(name)[0];
  }

  close(): void {
    this.file.close();
  }
}
