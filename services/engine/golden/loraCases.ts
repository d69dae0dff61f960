/**
 * Golden `lora` cases (golden-features README §1), through the engine's own
 * path: the set's base checkpoint loaded as the engine loads it, each config
 * of `cases.json → cases.lora.configs` applied with
 * `LoadedCheckpoint.withLoras` (key map, Fooocus matching, merge into an F32
 * shard, graphs from the overlay), then:
 *  - the Fooocus-internal patched-key counts (`unet_patched_keys`,
 *    `clip_patched_keys`) against the merge report;
 *  - `{cfg}.merged.{key}` against the shard's tensor (a row block of
 *    `in_proj_weight` for CLIP-G q/k/v);
 *  - `{cfg}.unet.eps` for the raw UNet call on `unet.x/t/context/y`;
 *  - `{cfg}.clip.context` / `.pooled` for the case's prompt through
 *    `encodeWorkloads` (Fooocus prompt weighting, the case's clip skip).
 * `base` runs the same calls without LoRA and also checks the prompt's token
 * ids and weights. Everything — prompt, clip skip, configs, LoRA files,
 * checkpoint (`base_checkpoint.path`, checked against its sha256) and
 * tolerances — comes from `cases.json`.
 *
 * The section loads its own checkpoint into its own temporary graph cache
 * (removed afterwards): this set names its checkpoint under
 * `base_checkpoint`, not `checkpoint`, and LoRA shards must not outlive the run.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openSafetensors, type SafetensorsFile } from '../io/safetensors.ts';
import { buildLoraKeyMap, type LoraKeyMap } from '../lora/loraKeyMap.ts';
import { checkpointWeights } from '../onnx/weightSource.ts';
import { encodeWorkloads } from '../pipeline/encodePrompt.ts';
import { LoadedCheckpoint } from '../runtime/loadedCheckpoint.ts';
import { tokenizeForSdxl } from '../text/tokenizePrompt.ts';
import type { CaseChecks } from './caseChecks.ts';
import type { CaseRunner } from './caseRunner.ts';
import type { Tolerance } from './compare.ts';
import type { CaseFile, GoldenSet } from './goldenSet.ts';

interface LoraConfig {
  name: string;
  loras: { file: string; weight: number }[];
  unet_patched_keys?: number;
  clip_patched_keys?: number;
  merged_keys?: string[];
}

export interface LoraSection {
  file: string;
  prompt: string;
  clip_skip?: number;
  configs: LoraConfig[];
}

/** golden-features README §11, used when `cases.json → tolerances.fp32` lacks the entry. */
const README_TOLERANCES: Record<string, Tolerance> = {
  lora_merged_weights: { rtol: 1e-5, atol: 1e-6 },
  text_encoder_outputs: { rtol: 1e-4, atol: 1e-4 },
  unet_eps: { rtol: 1e-4, atol: 1e-4 },
};

export const runLoraCases: CaseRunner = async (set, c) => {
  const section = set.section<LoraSection>('lora');
  const file = set.file(section.file);
  const tol = (key: string): Tolerance => {
    try {
      return set.tolerance(key);
    } catch {
      return README_TOLERANCES[key];
    }
  };
  const cacheDir = mkdtempSync(join(tmpdir(), 'fooocus-golden-lora-'));
  const checkpointPath = set.resolve(baseCheckpoint(set));
  let base: LoadedCheckpoint | undefined;
  let raw: SafetensorsFile | undefined;
  try {
    base = await LoadedCheckpoint.load(checkpointPath, { cacheDir, compute: 'float32', session: { providers: ['cpu'] }, maxLoadedVariants: 1 });
    raw = openSafetensors(checkpointPath);
    const keyMap = buildLoraKeyMap(checkpointWeights(raw), base.inspection);
    const expectedSha = (set.json as { base_checkpoint?: { sha256?: string } }).base_checkpoint?.sha256;
    const model = base;

    await c.check('base', async (checks) => {
      if (expectedSha) checks.require('checkpoint sha256', model.contentHash === expectedSha, `${checkpointPath} has sha256 ${model.contentHash}, cases.json says ${expectedSha}`);
      const tokens = tokenizeForSdxl(section.prompt);
      if (file.has('clip.l_ids')) checks.exact('clip.l_ids', tokens.clipL.flatMap((ch) => ch.ids), file.ints('clip.l_ids'));
      if (file.has('clip.g_ids')) checks.exact('clip.g_ids', tokens.clipG.flatMap((ch) => ch.ids), file.ints('clip.g_ids'));
      if (file.has('clip.l_weights')) checks.float('clip.l_weights', tokens.clipL.flatMap((ch) => ch.weights), file.float32('clip.l_weights'), { atol: 1e-6 });
      await checkOutputs(checks, model, file, 'base', section, tol);
    });

    for (const config of section.configs) {
      await c.check(config.name, async (checks) => {
        const variant = await model.withLoras(config.loras.map((l) => ({ path: set.resolve(l.file), weight: l.weight })));
        const report = variant.lora?.report;
        const patched = report?.patched ?? { unet: 0, clip: 0 };
        if (config.unet_patched_keys !== undefined) {
          checks.require('unet_patched_keys', patched.unet === config.unet_patched_keys, `${patched.unet} UNet keys patched, expected ${config.unet_patched_keys}`);
        }
        if (config.clip_patched_keys !== undefined) {
          checks.require('clip_patched_keys', patched.clip === config.clip_patched_keys, `${patched.clip} CLIP keys patched, expected ${config.clip_patched_keys}`);
        }
        const merged = file.names().filter((n) => n.startsWith(`${config.name}.merged.`));
        for (const key of config.merged_keys ?? []) {
          if (!merged.includes(`${config.name}.merged.${key}`)) checks.require(`${config.name}.merged.${key}`, false, 'listed in merged_keys but absent from the case file');
        }
        if (merged.length > 0) {
          const shard = variant.lora ? openSafetensors(variant.lora.path) : undefined;
          try {
            for (const name of merged) {
              const internal = name.slice(`${config.name}.merged.`.length);
              const got = mergedWeight(keyMap, shard, internal);
              if (!got) checks.require(name, false, `${internal} was not patched`);
              else checks.float(name, got, file.float32(name), tol('lora_merged_weights'));
            }
          } finally {
            shard?.close();
          }
        }
        await checkOutputs(checks, variant, file, config.name, section, tol);
      });
    }
  } finally {
    raw?.close();
    await base?.close();
    rmSync(cacheDir, { recursive: true, force: true });
  }
};

/** The set's base checkpoint: `base_checkpoint.path` (features sets) or `checkpoint`. */
function baseCheckpoint(set: GoldenSet): string {
  const json = set.json as { base_checkpoint?: { path?: string }; checkpoint?: string };
  const path = json.base_checkpoint?.path ?? json.checkpoint;
  if (!path) throw new Error('cases.json names no base_checkpoint.path or checkpoint');
  return path;
}

/** The merged float32 values of one Fooocus-internal weight as the shard holds them; null when not patched. */
function mergedWeight(keyMap: LoraKeyMap, shard: SafetensorsFile | undefined, internal: string): Float32Array | null {
  const target = keyMap.internal.get(internal);
  if (!target || !shard || !shard.has(target.weight.key)) return null;
  const values = shard.float32(target.weight.key);
  const rows = target.weight.rows;
  if (!rows) return values;
  const rowLen = values.length / shard.info(target.weight.key).shape[0];
  return values.subarray(rows.start * rowLen, (rows.start + rows.count) * rowLen);
}

async function checkOutputs(
  checks: CaseChecks, model: LoadedCheckpoint, file: CaseFile, name: string, section: LoraSection, tol: (key: string) => Tolerance,
): Promise<void> {
  const k = (suffix: string) => `${name}.${suffix}`;
  if (file.has(k('unet.eps'))) {
    const tensor = (n: string) => ({ data: file.float32(n), dims: file.shape(n) });
    const eps = await model.unet(tensor('unet.x'), file.float32('unet.t'), tensor('unet.context'), tensor('unet.y'));
    checks.float(k('unet.eps'), eps, file.float32(k('unet.eps')), tol('unet_eps'));
  }
  if (file.has(k('clip.context')) || file.has(k('clip.pooled'))) {
    const cond = await encodeWorkloads(model, [section.prompt], { clipSkip: section.clip_skip ?? 2 });
    if (file.has(k('clip.context'))) checks.float(k('clip.context'), cond.context, file.float32(k('clip.context')), tol('text_encoder_outputs'));
    if (file.has(k('clip.pooled'))) checks.float(k('clip.pooled'), cond.pooled, file.float32(k('clip.pooled')), tol('text_encoder_outputs'));
  }
}
