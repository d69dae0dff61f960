/**
 * The golden-features LoRA case for tests (golden-features README §1):
 * paths, the `cases.lora` section of cases.json and its tolerances. Shared
 * data lives beside the repository unless FOOOCUS_SHARED says otherwise.
 */
import { readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import type { LoraSection } from '../../golden/loraCases.ts';

export const SHARED = process.env.FOOOCUS_SHARED ?? resolve(import.meta.dirname, '../../../../../shared');
export const FEATURES = join(SHARED, 'golden-features');
export const CHECKPOINT = join(SHARED, 'golden/tiny-sdxl.safetensors');
export const REFINER_CHECKPOINT = join(FEATURES, 'tiny-sdxl-refiner.safetensors');

export const LORA_A = join(FEATURES, 'loras/tiny-lora-kohya-r4.safetensors');
export const LORA_B = join(FEATURES, 'loras/tiny-locon-r8.safetensors');
export const LORA_C = join(FEATURES, 'loras/tiny-lora-mismatch.safetensors');

interface GoldenLoraConfig {
  name: string;
  loras: { file: string; weight: number }[];
  unet_patched_keys: number;
  clip_patched_keys: number;
  merged_keys: string[];
}

interface CasesJson {
  cases: { lora: Omit<LoraSection, 'configs'> & { configs: GoldenLoraConfig[] } };
  tolerances: { fp32: Record<string, { rtol: number; atol: number }> };
}

export const casesJson = JSON.parse(readFileSync(join(FEATURES, 'cases.json'), 'utf8')) as CasesJson;
export const loraSection = casesJson.cases.lora;
export const LORA_CASE_FILE = join(FEATURES, loraSection.file);

export const TOL = {
  merged: casesJson.tolerances.fp32.lora_merged_weights,
  text: casesJson.tolerances.fp32.text_encoder_outputs,
  eps: casesJson.tolerances.fp32.unet_eps,
};

export function config(name: string) {
  const c = loraSection.configs.find((x) => x.name === name);
  if (!c) throw new Error(`no LoRA config ${name} in cases.json`);
  return { ...c, requests: c.loras.map((l) => ({ path: join(FEATURES, l.file), weight: l.weight })) };
}

/** Elementwise |got − want| ≤ atol + rtol·|want|; returns the worst excess (≤ 0 passes) and max |Δ|. */
export function worst(got: ArrayLike<number>, want: ArrayLike<number>, tol: { rtol: number; atol: number }): { excess: number; maxAbs: number } {
  if (got.length !== want.length) return { excess: Infinity, maxAbs: Infinity };
  let excess = -Infinity;
  let maxAbs = 0;
  for (let i = 0; i < want.length; i++) {
    const d = Math.abs(got[i] - want[i]);
    maxAbs = Math.max(maxAbs, d);
    excess = Math.max(excess, d - (tol.atol + tol.rtol * Math.abs(want[i])));
  }
  return { excess, maxAbs };
}
