/**
 * Preset files: FooocusAPI's / Fooocus' `presets/<name>.json` format (api-contract §2.4).
 *
 * `loadPresets(dir)` reads every `*.json` of a directory once at start-up and validates it, so a
 * broken preset fails the boot with the file and the field named, instead of the request-time
 * `None`s and 500s of FooocusAPI. Every key is optional: a key the preset lacks leaves the
 * request field alone (FooocusAPI sets it to `None`). Unknown keys are kept (Fooocus presets
 * carry UI-only keys).
 *
 * `getPreset(presets, name)` is the request-time lookup; an unknown name is a `ValidationError`
 * on `preset` that lists the available names (FooocusAPI silently ignores it).
 */
import { readdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import { z } from 'zod';
import { ValidationError } from '../errors.ts';
import { INPAINT_ENGINES, PERFORMANCES, SAMPLER_NAMES, SCHEDULER_NAMES } from '../request/fooocusConstants.ts';

const loraEntry = z.union([
  z.tuple([z.boolean(), z.string(), z.number()]),
  // Fooocus < 2.3 wrote [name, weight]; it reads them as enabled.
  z.tuple([z.string(), z.number()]).transform(([name, weight]) => [true, name, weight] as [boolean, string, number]),
]);

export const presetSchema = z
  .object({
    default_model: z.string().optional(),
    default_refiner: z.string().optional(),
    default_refiner_switch: z.number().min(0.1).max(1).optional(),
    default_loras: z.array(loraEntry).optional(),
    default_cfg_scale: z.number().min(1).max(30).optional(),
    default_sample_sharpness: z.number().min(0).max(30).optional(),
    default_sampler: z.enum(SAMPLER_NAMES).optional(),
    default_scheduler: z.enum(SCHEDULER_NAMES).optional(),
    default_performance: z.enum(PERFORMANCES).optional(),
    default_prompt: z.string().optional(),
    default_prompt_negative: z.string().optional(),
    default_styles: z.array(z.string()).optional(),
    default_aspect_ratio: z
      .string()
      .regex(/^\d+[*×]\d+$/, 'expected "W*H"')
      .optional(),
    default_overwrite_step: z.int().optional(),
    default_vae: z.string().optional(),
    default_inpaint_engine_version: z.enum(INPAINT_ENGINES).optional(),
    checkpoint_downloads: z.record(z.string(), z.string()).optional(),
    embeddings_downloads: z.record(z.string(), z.string()).optional(),
    lora_downloads: z.record(z.string(), z.string()).optional(),
    vae_downloads: z.record(z.string(), z.string()).optional(),
    previous_default_models: z.array(z.string()).optional(),
  })
  .loose();

export type Preset = z.output<typeof presetSchema>;
/** Preset name (file name without `.json`) → preset, in name order. */
export type PresetMap = ReadonlyMap<string, Preset>;

/** A preset file that is not valid JSON or not a valid preset. Thrown at start-up. */
export class InvalidPresetFileError extends Error {
  readonly file: string;
  constructor(file: string, detail: string, options: { cause?: unknown } = {}) {
    super(`Invalid preset file ${file}: ${detail}`, options);
    this.name = 'InvalidPresetFileError';
    this.file = file;
  }
}

export interface LoadPresetsOptions {
  /** When given, every `default_styles` entry must be one of these names. */
  styleNames?: { has(name: string): boolean };
}

export async function loadPresets(dir: string, options: LoadPresetsOptions = {}): Promise<PresetMap> {
  const files = (await readdir(dir)).filter((f) => f.endsWith('.json')).sort();
  const presets = new Map<string, Preset>();
  for (const file of files) {
    const full = path.join(dir, file);
    let raw: unknown;
    try {
      raw = JSON.parse(await readFile(full, 'utf8'));
    } catch (cause) {
      throw new InvalidPresetFileError(full, 'not valid JSON', { cause });
    }
    const parsed = presetSchema.safeParse(raw);
    if (!parsed.success) throw new InvalidPresetFileError(full, z.prettifyError(parsed.error), { cause: parsed.error });
    const unknownStyles = (parsed.data.default_styles ?? []).filter((s) => options.styleNames && !options.styleNames.has(s));
    if (unknownStyles.length > 0) {
      throw new InvalidPresetFileError(full, `unknown style(s) in default_styles: ${unknownStyles.join(', ')}`);
    }
    presets.set(file.slice(0, -'.json'.length), parsed.data);
  }
  return presets;
}

/** Look a preset up by the request's `preset` value; unknown → 422 naming it and the choices. */
export function getPreset(presets: PresetMap, name: string): Preset {
  const preset = presets.get(name);
  if (preset) return preset;
  const available = [...presets.keys()];
  throw ValidationError.forField(
    ['preset'],
    `Unknown preset '${name}'. Available presets: ${available.length > 0 ? available.join(', ') : '(none)'}; use "initial" for none.`,
    { type: 'preset_unknown', input: name, ctx: { available } },
  );
}
