/**
 * A directory in the golden format (golden README §4): `cases.json` at its
 * root, the checkpoint it names, and the `.safetensors` case files its
 * sections point to. Everything a case runner needs comes from here — prompts,
 * shapes, seeds, parameters and tolerances are read from `cases.json`, never
 * assumed, so the same runner works on another set in this format (another
 * tiny configuration, other prompts, sizes or seeds).
 *
 * Case files are opened once and kept for the run; the checkpoint is loaded
 * once, lazily (sets without model cases never load it), through
 * `LoadedCheckpoint` exactly as the engine loads a user's checkpoint: graphs
 * built from the file's own shapes and cached under `cacheDir`, CPU float32
 * sessions.
 */
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { isAbsolute, join } from 'node:path';
import { openSafetensors, toFloat32, type SafetensorsFile } from '../io/safetensors.ts';
import { LoadedCheckpoint } from '../runtime/loadedCheckpoint.ts';
import type { U8Rule } from './caseChecks.ts';
import type { Tolerance } from './compare.ts';

/** The parts of `cases.json` every set has; sections are read by their case kind's module. */
export interface GoldenCasesJson {
  set?: string;
  checkpoint?: string;
  /** A features set's base model, kept in another set (golden-features README). */
  base_checkpoint?: { path: string; sha256?: string };
  cases: Record<string, unknown>;
  tolerances?: { fp32?: Record<string, unknown> };
}

/**
 * README §3 (fp32 graph) figures, used when a set's `tolerances.fp32` lacks
 * an entry; a set's own entry always wins.
 */
const DEFAULT_TOLERANCES: Record<string, Tolerance> = {
  schedules: { rtol: 1e-5, atol: 1e-6 },
  timesteps_interpolated: { atol: 1e-3 },
  embeddings: { atol: 1e-4 },
  text_encoders: { rtol: 1e-4, atol: 1e-4 },
  unet_eps: { rtol: 1e-4, atol: 1e-4 },
  vae: { rtol: 1e-4, atol: 1e-4 },
  txt2img_latents: { atolTimesMaxAbs: 1e-4 },
  txt2img_image: { atol: 1e-3 },
  torch_randn: { rtol: 1e-6, atol: 1e-6 },
  fooocus_cfg_filtered_pos_eps: { rtol: 1e-4, atol: 1e-4 },
  fooocus_cfg_denoised: { atolTimesMaxAbs: 1e-4 },
  sampler_runs_latents: { atolTimesMaxAbs: 1e-4 },
  sampler_runs_sampler_only_replay: { atolTimesMaxAbs: 1e-4 },
  sampler_runs_image: { atol: 1e-3 },
  sampler_runs_latents_if_a_flagged_timestep_tie_differs: { atolTimesMaxAbs: 1e-3 },
  scheduler_sigmas: { rtol: 1e-5, atol: 1e-6 },
};

const DEFAULT_U8_RULE: U8Rule = { maxLsb: 1, maxFraction: 0.001 };
/** README §3: runs with flagged timestep ties or dpm_adaptive allow ≤ 1 LSB on ≤ 5 %. */
const DEFAULT_FLAGGED_U8_FRACTION = 0.05;

/** The dpm_adaptive rules of README §3 (its σ path follows its own error estimates). */
export interface DpmAdaptiveTolerances {
  evalSigma: Tolerance;
  evalX: Tolerance;
  evalDenoised: Tolerance;
  xFinal: Tolerance;
}

/** One case file: tensors by name, float tensors also as float64 latents. */
export class CaseFile {
  constructor(private readonly file: SafetensorsFile) {}

  get path(): string {
    return this.file.path;
  }

  has(name: string): boolean {
    return this.file.has(name);
  }

  names(): string[] {
    return [...this.file.tensors.keys()];
  }

  shape(name: string): number[] {
    return this.file.info(name).shape;
  }

  float32(name: string): Float32Array {
    return this.file.float32(name);
  }

  /** A float tensor as a float64 latent (what the samplers work in). */
  latent(name: string): Float64Array {
    return Float64Array.from(this.file.float32(name));
  }

  scalar(name: string): number {
    return this.file.float32(name)[0];
  }

  /** Integer tensors (I64 token ids) as numbers. */
  ints(name: string): number[] {
    const t = this.file.tensor(name);
    return Array.from(toFloat32(t.dtype, t.data));
  }

  u8(name: string): Uint8Array {
    const t = this.file.tensor(name);
    if (t.dtype !== 'U8') throw new Error(`${this.file.path}: ${name} is ${t.dtype}, expected U8`);
    return t.data as Uint8Array;
  }

  close(): void {
    this.file.close();
  }
}

export interface GoldenSetOptions {
  /** Graph cache directory; default: a fresh temp directory, removed by close(). */
  cacheDir?: string;
  /** ORT intra-op threads; default 0 (all cores). */
  intraOpThreads?: number;
}

export class GoldenSet {
  private readonly files = new Map<string, CaseFile>();
  private checkpointLoad: Promise<LoadedCheckpoint> | undefined;
  /** Further checkpoints by absolute path (a features set's base and refiner). */
  private readonly otherCheckpoints = new Map<string, Promise<LoadedCheckpoint>>();
  private ownedCacheDir: string | undefined;

  private constructor(
    readonly dir: string,
    readonly json: GoldenCasesJson,
    private readonly opts: GoldenSetOptions,
  ) {}

  /** Reads `<dir>/cases.json`; throws a readable error when the directory is not a golden set. */
  static open(dir: string, opts: GoldenSetOptions = {}): GoldenSet {
    const casesPath = join(dir, 'cases.json');
    if (!existsSync(casesPath)) throw new Error(`${dir} is not a golden set: no cases.json`);
    const json = JSON.parse(readFileSync(casesPath, 'utf8')) as GoldenCasesJson;
    if (!json.cases || typeof json.cases !== 'object') throw new Error(`${casesPath} has no "cases" object`);
    return new GoldenSet(dir, json, opts);
  }

  /** Case kinds in `cases.json` order. */
  kinds(): string[] {
    return Object.keys(this.json.cases);
  }

  section<T>(kind: string): T {
    const s = this.json.cases[kind];
    if (s === undefined) throw new Error(`cases.json has no section ${kind}`);
    return s as T;
  }

  /** A case file by its path relative to the set (as `cases.json` names it), opened once. */
  file(relativePath: string): CaseFile {
    let f = this.files.get(relativePath);
    if (!f) {
      f = new CaseFile(openSafetensors(this.resolve(relativePath)));
      this.files.set(relativePath, f);
    }
    return f;
  }

  resolve(relativePath: string): string {
    return isAbsolute(relativePath) ? relativePath : join(this.dir, relativePath);
  }

  /** The fp32 tolerance named `key` in `cases.json → tolerances.fp32` (README default if absent). */
  tolerance(key: string): Tolerance {
    const entry = this.json.tolerances?.fp32?.[key];
    if (entry && typeof entry === 'object') return parseTolerance(entry as Record<string, unknown>);
    if (entry === 'exact') return { atol: 0, rtol: 0 };
    const fallback = DEFAULT_TOLERANCES[key];
    if (!fallback) throw new Error(`no tolerance ${key} in cases.json and no README default`);
    return fallback;
  }

  /**
   * The 8-bit rule named `key` ("|diff| <= 1 LSB on at most 0.1% of values
   * (runs with flagged timestep_ties or dpm_adaptive: at most 5%)"); `flagged`
   * picks the parenthesised allowance.
   */
  u8Rule(key: string, flagged = false): U8Rule {
    const entry = this.json.tolerances?.fp32?.[key];
    if (typeof entry !== 'string') return flagged ? { ...DEFAULT_U8_RULE, maxFraction: DEFAULT_FLAGGED_U8_FRACTION } : DEFAULT_U8_RULE;
    const main = /(\d+)\s*LSB on at most ([\d.]+)\s*%/.exec(entry);
    const rule = main ? { maxLsb: Number(main[1]), maxFraction: Number(main[2]) / 100 } : DEFAULT_U8_RULE;
    if (!flagged) return rule;
    const extra = /\([^)]*at most ([\d.]+)\s*%[^)]*\)/.exec(entry);
    return { ...rule, maxFraction: extra ? Number(extra[1]) / 100 : DEFAULT_FLAGGED_U8_FRACTION };
  }

  dpmAdaptiveTolerances(): DpmAdaptiveTolerances {
    const e = (this.json.tolerances?.fp32?.sampler_runs_dpm_adaptive ?? {}) as Record<string, Record<string, unknown> | undefined>;
    const pick = (key: string, fallback: Tolerance): Tolerance => (e[key] ? parseTolerance(e[key]!) : fallback);
    return {
      evalSigma: pick('eval_sigma', { rtol: 1e-3 }),
      evalX: pick('eval_x', { atolTimesMaxAbs: 1e-2 }),
      evalDenoised: pick('eval_denoised', { atolTimesMaxAbs: 3e-2 }),
      xFinal: pick('x_final', { atolTimesMaxAbs: 5e-3 }),
    };
  }

  /** Absolute path of the set's checkpoint (`cases.json → checkpoint`). */
  checkpointPath(): string {
    if (!this.json.checkpoint) throw new Error('cases.json names no checkpoint');
    return this.resolve(this.json.checkpoint);
  }

  /** The set's checkpoint, loaded once through the engine's runtime (CPU, float32). */
  checkpoint(): Promise<LoadedCheckpoint> {
    this.checkpointLoad ??= (async () => {
      const path = this.checkpointPath();
      return LoadedCheckpoint.load(path, {
        cacheDir: this.cacheDir(),
        compute: 'float32',
        session: { providers: ['cpu'], intraOpThreads: this.opts.intraOpThreads },
      });
    })();
    return this.checkpointLoad;
  }

  /**
   * Any checkpoint by its path relative to the set (a features set names its
   * base as `base_checkpoint.path` and its refiner in a section), loaded once
   * like `checkpoint()` and closed with the set.
   */
  checkpointAt(relativePath: string): Promise<LoadedCheckpoint> {
    const path = this.resolve(relativePath);
    if (this.json.checkpoint && path === this.checkpointPath()) return this.checkpoint();
    let load = this.otherCheckpoints.get(path);
    if (!load) {
      load = LoadedCheckpoint.load(path, {
        cacheDir: this.cacheDir(),
        compute: 'float32',
        session: { providers: ['cpu'], intraOpThreads: this.opts.intraOpThreads },
      });
      this.otherCheckpoints.set(path, load);
    }
    return load;
  }

  /** The base model: the set's own checkpoint, or the one a features set names in `base_checkpoint`. */
  baseCheckpoint(): Promise<LoadedCheckpoint> {
    if (this.json.checkpoint) return this.checkpoint();
    if (!this.json.base_checkpoint) throw new Error('cases.json names neither checkpoint nor base_checkpoint');
    return this.checkpointAt(this.json.base_checkpoint.path);
  }

  /** The raw checkpoint file, for the few debug references computed outside the graphs. */
  checkpointFile(): CaseFile {
    return this.file(this.checkpointPath());
  }

  private cacheDir(): string {
    if (this.opts.cacheDir) return this.opts.cacheDir;
    this.ownedCacheDir ??= mkdtempSync(join(tmpdir(), 'fooocus-golden-'));
    return this.ownedCacheDir;
  }

  async close(): Promise<void> {
    if (this.checkpointLoad) {
      const loaded = await this.checkpointLoad.catch(() => undefined);
      await loaded?.close();
      this.checkpointLoad = undefined;
    }
    for (const load of this.otherCheckpoints.values()) await (await load.catch(() => undefined))?.close();
    this.otherCheckpoints.clear();
    for (const f of this.files.values()) f.close();
    this.files.clear();
    if (this.ownedCacheDir) rmSync(this.ownedCacheDir, { recursive: true, force: true });
    this.ownedCacheDir = undefined;
  }
}

function parseTolerance(entry: Record<string, unknown>): Tolerance {
  const num = (k: string): number | undefined => (typeof entry[k] === 'number' ? (entry[k] as number) : undefined);
  return { rtol: num('rtol'), atol: num('atol'), atolTimesMaxAbs: num('atol_times_maxabs') };
}
