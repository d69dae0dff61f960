/**
 * The generation parameters Fooocus writes into an image, in its two schemes
 * (F modules/async_worker.py `save_and_log`, modules/meta_parser.py; api-contract §2.1
 * `save_metadata_to_images`, `metadata_scheme`):
 *
 *   - `fooocus`: `json.dumps(dict(sorted(res.items())))` of the log entries plus full_prompt,
 *     full_negative_prompt, base_model(+_hash), refiner_model(+_hash), vae, loras, created_by —
 *     Python's separators and ASCII escaping, floats as Python prints them;
 *   - `a1111`: the text A1111 tools parse — positive workloads joined with ", ", a
 *     "Negative prompt:" line, then "Key: value" pairs in Fooocus' order, values containing
 *     ',', ':' or a newline JSON-quoted (Fooocus `quote`).
 *
 * Both are built from one GenerationParameters record that the caller fills with what was
 * actually used for that image (its seed, its styles after "Random Style", its expansion, the
 * workloads that were encoded, the LoRAs merged). Model and LoRA names are written as stems
 * and hashes as the first 10 hex digits of the file's sha256, as Fooocus does.
 *
 * Fooocus quirks kept on purpose (readers such as Fooocus' own "load parameters" rely on
 * them): the A1111 sampler gets " Karras" whenever the scheduler is karras, because Fooocus
 * compares the A1111 name against a list of Fooocus names; "Adaptive CFG" / "CFG Mimicking
 * from TSNR" is recorded only when it differs from 7.0, "Clip skip" only above 1, and the
 * refiner's switch/swap entries only when a refiner ran.
 */
import { pyFloat, pyJsonDumps, pyJsonString, pyPathStem, pyStr, pyStrip, pyTuple, type PyValue } from './pythonLiterals.ts';

export type MetadataScheme = 'fooocus' | 'a1111';

/** Fooocus `HASH_SHA256_LENGTH`: hashes are written as the first 10 hex digits. */
export const FOOOCUS_HASH_LENGTH = 10;
/** Fooocus `default_cfg_tsnr`: adaptive CFG is recorded only when it differs. */
const DEFAULT_ADAPTIVE_CFG = 7.0;
/** Fooocus `flags.refiner_swap_method`. */
const DEFAULT_REFINER_SWAP_METHOD = 'joint';

export interface ModelFileRef {
  /** The name as requested (relative to its model folder, with extension). */
  name: string;
  /** sha256 of the file, hex (full or already shortened); written as its first 10 digits. */
  sha256: string;
}

export interface LoraRef extends ModelFileRef {
  weight: number;
}

/** What was used for ONE image. Every number that Fooocus keeps as a float is printed as one. */
export interface GenerationParameters {
  /** Fooocus `log_positive_prompt`: the image's prompt line after wildcards/arrays, then its extra lines, joined with '\n'. */
  prompt: string;
  /** Fooocus `log_negative_prompt`, likewise. */
  negativePrompt: string;
  /** The Fooocus V2 expansion text appended for this image; '' when none ran. */
  promptExpansion: string;
  /** Styles as applied to this image, "Random Style" resolved, without "Fooocus V2". */
  styles: readonly string[];
  /** "Fooocus V2" ran: it is listed first among the styles, as Fooocus does. */
  usedExpansion: boolean;
  /** `Speed`, `Quality`, … */
  performance: string;
  steps: number;
  width: number;
  height: number;
  guidanceScale: number;
  sharpness: number;
  /** ADM scalers as applied (positive, negative, end). */
  adm: { positive: number; negative: number; end: number };
  baseModel: ModelFileRef;
  /** null when no refiner ran (written as "None"). */
  refinerModel: ModelFileRef | null;
  refinerSwitch: number;
  /** FooocusAPI `overwrite_switch`; recorded only with a refiner and when > 0. */
  overwriteSwitch: number;
  refinerSwapMethod: string;
  adaptiveCfg: number;
  clipSkip: number;
  sampler: string;
  scheduler: string;
  /** VAE file name, or "Default (model)". */
  vae: string;
  /** This image's seed (task_seed). */
  seed: bigint | string | number;
  /** FreeU (b1, b2, s1, s2) when enabled, else null. */
  freeu: { b1: number; b2: number; s1: number; s2: number } | null;
  /** LoRAs merged, in order, user LoRAs then the performance LoRA; none named "None". */
  loras: readonly LoraRef[];
  /** The positive workloads that were encoded (styles applied, expansion last). */
  fullPrompt: readonly string[];
  fullNegativePrompt: readonly string[];
  /** Fooocus writes 'Fooocus v' + its version; use what identifies this build. */
  version: string;
  /** Fooocus `metadata_created_by`; omitted when empty. */
  createdBy?: string;
}

/** One entry of Fooocus' log list `d`: (label, key, value). */
export type LogEntry = readonly [label: string, key: string, value: PyValue];

/** F `save_and_log`'s list `d`, in its order, with Python-typed values. */
export function fooocusLogEntries(p: GenerationParameters, scheme: MetadataScheme): LogEntry[] {
  const refiner = p.refinerModel ? p.refinerModel.name : 'None';
  const d: LogEntry[] = [
    ['Prompt', 'prompt', p.prompt],
    ['Negative Prompt', 'negative_prompt', p.negativePrompt],
    ['Fooocus V2 Expansion', 'prompt_expansion', p.promptExpansion],
    ['Styles', 'styles', pyStr(p.usedExpansion ? ['Fooocus V2', ...p.styles] : [...p.styles])],
    ['Performance', 'performance', p.performance],
    ['Steps', 'steps', p.steps],
    ['Resolution', 'resolution', pyStr(pyTuple(p.width, p.height))],
    ['Guidance Scale', 'guidance_scale', pyFloat(p.guidanceScale)],
    ['Sharpness', 'sharpness', pyFloat(p.sharpness)],
    ['ADM Guidance', 'adm_guidance', pyStr(pyTuple(pyFloat(p.adm.positive), pyFloat(p.adm.negative), pyFloat(p.adm.end)))],
    ['Base Model', 'base_model', p.baseModel.name],
    ['Refiner Model', 'refiner_model', refiner],
    ['Refiner Switch', 'refiner_switch', pyFloat(p.refinerSwitch)],
  ];
  if (refiner !== 'None') {
    if (p.overwriteSwitch > 0) d.push(['Overwrite Switch', 'overwrite_switch', p.overwriteSwitch]);
    if (p.refinerSwapMethod !== DEFAULT_REFINER_SWAP_METHOD) d.push(['Refiner Swap Method', 'refiner_swap_method', p.refinerSwapMethod]);
  }
  if (p.adaptiveCfg !== DEFAULT_ADAPTIVE_CFG) d.push(['CFG Mimicking from TSNR', 'adaptive_cfg', pyFloat(p.adaptiveCfg)]);
  if (p.clipSkip > 1) d.push(['CLIP Skip', 'clip_skip', p.clipSkip]);
  d.push(['Sampler', 'sampler', p.sampler]);
  d.push(['Scheduler', 'scheduler', p.scheduler]);
  d.push(['VAE', 'vae', p.vae]);
  d.push(['Seed', 'seed', String(p.seed)]);
  if (p.freeu) {
    const f = p.freeu;
    d.push(['FreeU', 'freeu', pyStr(pyTuple(pyFloat(f.b1), pyFloat(f.b2), pyFloat(f.s1), pyFloat(f.s2)))]);
  }
  p.loras.forEach((l, i) => d.push([`LoRA ${i + 1}`, `lora_combined_${i + 1}`, `${l.name} : ${pyStr(pyFloat(l.weight))}`]));
  d.push(['Metadata Scheme', 'metadata_scheme', scheme]);
  d.push(['Version', 'version', p.version]);
  return d;
}

/** F `FooocusMetadataParser.to_string`: sorted JSON. */
export function fooocusSchemeText(p: GenerationParameters): string {
  const res: Record<string, PyValue> = {};
  for (const [, key, value] of fooocusLogEntries(p, 'fooocus')) {
    if (key.startsWith('lora_combined_')) {
      const [name, weight] = (value as string).split(' : ');
      res[key] = `${pyPathStem(name)} : ${weight}`; // model folder paths removed
    } else {
      res[key] = value;
    }
  }
  res.full_prompt = [...p.fullPrompt];
  res.full_negative_prompt = [...p.fullNegativePrompt];
  res.steps = p.steps;
  res.base_model = pyPathStem(p.baseModel.name);
  res.base_model_hash = shortHash(p.baseModel.sha256);
  if (p.refinerModel) {
    res.refiner_model = pyPathStem(p.refinerModel.name);
    res.refiner_model_hash = shortHash(p.refinerModel.sha256);
  }
  res.vae = pyPathStem(p.vae);
  res.loras = p.loras.map((l) => [pyPathStem(l.name), pyFloat(l.weight), shortHash(l.sha256)]);
  if (p.createdBy) res.created_by = p.createdBy;
  return pyJsonDumps(res, { sortKeys: true });
}

/** Fooocus SAMPLERS (flags.KSAMPLER | SAMPLER_EXTRA): Fooocus name → A1111 (Civitai) name; '' = none. */
const A1111_SAMPLERS: Record<string, string> = {
  euler: 'Euler', euler_ancestral: 'Euler a', heun: 'Heun', heunpp2: '', dpm_2: 'DPM2', dpm_2_ancestral: 'DPM2 a',
  lms: 'LMS', dpm_fast: 'DPM fast', dpm_adaptive: 'DPM adaptive', dpmpp_2s_ancestral: 'DPM++ 2S a',
  dpmpp_sde: 'DPM++ SDE', dpmpp_sde_gpu: 'DPM++ SDE', dpmpp_2m: 'DPM++ 2M', dpmpp_2m_sde: 'DPM++ 2M SDE',
  dpmpp_2m_sde_gpu: 'DPM++ 2M SDE', dpmpp_3m_sde: '', dpmpp_3m_sde_gpu: '', ddpm: '', lcm: 'LCM', tcd: 'TCD',
  restart: 'Restart', ddim: 'DDIM', uni_pc: 'UniPC', uni_pc_bh2: '',
};
/** Fooocus CIVITAI_NO_KARRAS (Fooocus names, compared against the A1111 name: never matches). */
const CIVITAI_NO_KARRAS = ['euler', 'euler_ancestral', 'heun', 'dpm_fast', 'dpm_adaptive', 'ddim', 'uni_pc'];

/** F `A1111MetadataParser.to_string`. */
export function a1111SchemeText(p: GenerationParameters): string {
  const data = new Map<string, PyValue>(fooocusLogEntries(p, 'a1111').map(([, k, v]) => [k, v]));
  let sampler = p.sampler;
  if (Object.hasOwn(A1111_SAMPLERS, sampler) && A1111_SAMPLERS[sampler] !== '') {
    sampler = A1111_SAMPLERS[sampler];
    if (!CIVITAI_NO_KARRAS.includes(sampler) && p.scheduler === 'karras') sampler += ' Karras';
  }
  const params: [string, PyValue][] = [
    ['Steps', p.steps],
    ['Sampler', sampler],
    ['Seed', data.get('seed')!],
    ['Size', `${p.width}x${p.height}`],
    ['CFG scale', data.get('guidance_scale')!],
    ['Sharpness', data.get('sharpness')!],
    ['ADM Guidance', data.get('adm_guidance')!],
    ['Model', pyPathStem(p.baseModel.name)],
    ['Model hash', shortHash(p.baseModel.sha256)],
    ['Performance', p.performance],
    ['Scheduler', p.scheduler],
    ['VAE', pyPathStem(p.vae)],
    ['Raw prompt', p.prompt],
    ['Raw negative prompt', p.negativePrompt],
  ];
  if (p.refinerModel) {
    params.push(['Refiner', pyPathStem(p.refinerModel.name)], ['Refiner hash', shortHash(p.refinerModel.sha256)]);
  }
  const optional: [string, string][] = [['adaptive_cfg', 'Adaptive CFG'], ['clip_skip', 'Clip skip'], ['overwrite_switch', 'Overwrite Switch'], ['refiner_swap_method', 'Refiner Swap Method'], ['freeu', 'FreeU']];
  for (const [key, label] of optional) if (data.has(key)) params.push([label, data.get(key)!]);
  if (p.loras.length > 0) {
    params.push(['Lora hashes', p.loras.map((l) => `${pyPathStem(l.name)}: ${shortHash(l.sha256)}`).join(', ')]);
    params.push(['Lora weights', p.loras.map((l) => `${pyPathStem(l.name)}: ${pyStr(pyFloat(l.weight))}`).join(', ')]);
  }
  params.push(['Version', p.version]);
  if (p.createdBy) params.push(['User', p.createdBy]);

  const paramsText = params.map(([k, v]) => (k === v ? k : `${k}: ${a1111Quote(v)}`)).join(', ');
  const positive = p.fullPrompt.join(', ');
  const negative = p.fullNegativePrompt.join(', ');
  const negativeText = negative ? `\nNegative prompt: ${negative}` : '';
  return pyStrip(`${positive}${negativeText}\n${paramsText}`);
}

/** The metadata to embed: the scheme's text and the EXIF Software value Fooocus writes. */
export interface ImageMetadata {
  scheme: MetadataScheme;
  /** PNG `parameters` chunk / EXIF UserComment / XMP. */
  parameters: string;
  /** EXIF Software (0x0131); Fooocus writes its version label. */
  software: string;
}

export function buildImageMetadata(p: GenerationParameters, scheme: MetadataScheme): ImageMetadata {
  const parameters = scheme === 'a1111' ? a1111SchemeText(p) : fooocusSchemeText(p);
  return { scheme, parameters, software: p.version };
}

function shortHash(sha256: string): string {
  return sha256.slice(0, FOOOCUS_HASH_LENGTH);
}

/** F util.quote: values with ',', '\n' or ':' are JSON-quoted (non-ASCII kept). */
function a1111Quote(v: PyValue): string {
  const s = pyStr(v);
  if (!s.includes(',') && !s.includes('\n') && !s.includes(':')) return s;
  return typeof v === 'string' ? pyJsonString(v, false) : s;
}
