// At worker start: make sure the configured model files exist, downloading the missing ones,
// as Fooocus does on its first launch (F launch.py `download_models`: skip a file that exists,
// else fetch it with a progress bar). The list is MODEL_DOWNLOADS (config.ts): inline JSON or a
// JSON file of `{ path, url, sha256?, size? }`, `path` relative to MODELS_DIR.
//
// Decisions:
// - Downloads run one after another (the link is the bottleneck; one progress bar at a time).
// - A file that exists is not re-verified (Fooocus does not either; hashing every checkpoint at
//   every start would cost minutes). A download is verified before it becomes the file, so an
//   existing file is either one we verified or one the operator put there.
// - Every entry is attempted; then, if any failed, DefaultModelsError lists them all and the
//   worker should exit non-zero: a worker without its default model would fail every task, and
//   a restart resumes the partial downloads (downloadModel keeps `.part` files).
// - The list is validated, and every target path checked against MODELS_DIR, before anything
//   is fetched: a typo fails at once, not after an hour of downloading.
import { readFile, stat } from 'node:fs/promises';
import { z } from 'zod';
import { downloadModel, redactUrl, type DownloadModelOptions, type DownloadProgress } from '../infra/models/downloadModel.ts';
import { createProgressBar } from '../infra/models/downloadProgressBar.ts';
import type { ModelStore } from '../infra/models/modelStore.ts';

const modelDownloadSchema = z
  .object({
    /** Relative to MODELS_DIR, e.g. "checkpoints/juggernautXL_v8Rundiffusion.safetensors". */
    path: z.string().min(1),
    url: z.string().refine((u) => /^https?:\/\//i.test(u) && URL.canParse(u), 'must be an http(s) URL'),
    /** Expected sha256, 64 hex digits. */
    sha256: z.string().regex(/^[0-9a-fA-F]{64}$/, 'must be 64 hex digits').optional(),
    /** Expected size in bytes. */
    size: z.number().int().positive().optional(),
  })
  .strict();

export const modelDownloadListSchema = z.array(modelDownloadSchema);
export type ModelDownloadSpec = z.infer<typeof modelDownloadSchema>;

/** MODEL_DOWNLOADS is not valid JSON, not a readable file, or not a valid list. */
export class ModelDownloadListError extends Error {
  constructor(message: string, options?: { cause?: unknown }) {
    super(`MODEL_DOWNLOADS: ${message}`, options);
    this.name = 'ModelDownloadListError';
  }
}

/** Some configured models could not be downloaded (each entry's error is kept). */
export class DefaultModelsError extends Error {
  constructor(readonly failures: { path: string; error: Error }[]) {
    super(`${failures.length} default model download(s) failed: ${failures.map((f) => `${f.path} (${f.error.message})`).join('; ')}`);
    this.name = 'DefaultModelsError';
  }
}

/** Parses MODEL_DOWNLOADS: undefined/empty → [], '[' … → inline JSON, anything else → a JSON file path. */
export async function loadModelDownloadList(value: string | undefined): Promise<ModelDownloadSpec[]> {
  const text = value?.trim() ?? '';
  if (text === '') return [];
  let json: string;
  if (text.startsWith('[')) {
    json = text;
  } else {
    try {
      json = await readFile(text, 'utf8');
    } catch (err) {
      throw new ModelDownloadListError(`cannot read the list file ${text} (${(err as Error).message})`, { cause: err });
    }
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(json);
  } catch (err) {
    throw new ModelDownloadListError(`not valid JSON (${(err as Error).message})`, { cause: err });
  }
  const r = modelDownloadListSchema.safeParse(parsed);
  if (!r.success) {
    throw new ModelDownloadListError(r.error.issues.map((i) => `[${i.path.join('.')}] ${i.message}`).join('; '));
  }
  return r.data;
}

export interface EnsureLogger {
  info(obj: object, msg: string): void;
  error(obj: object, msg: string): void;
}

export interface EnsureDefaultModelsOptions {
  store: ModelStore;
  downloads: readonly ModelDownloadSpec[];
  logger?: EnsureLogger;
  /** 'bar' (default): a progress bar on stderr; 'none'; or a callback. */
  progress?: 'bar' | 'none' | ((spec: ModelDownloadSpec, p: DownloadProgress) => void);
  signal?: AbortSignal;
  /** Passed to every downloadModel call (retries, timeouts, headers, fetch). */
  downloadOptions?: Omit<Partial<DownloadModelOptions>, 'url' | 'dest' | 'sha256' | 'size' | 'onProgress' | 'signal'>;
}

export interface EnsureDefaultModelsResult {
  /** Paths (as configured) that already existed. */
  present: string[];
  downloaded: string[];
}

export async function ensureDefaultModels(options: EnsureDefaultModelsOptions): Promise<EnsureDefaultModelsResult> {
  const { store, logger } = options;
  const targets = options.downloads.map((spec) => ({ spec, dest: store.downloadTarget(spec.path) }));
  const result: EnsureDefaultModelsResult = { present: [], downloaded: [] };
  const failures: { path: string; error: Error }[] = [];
  for (const { spec, dest } of targets) {
    options.signal?.throwIfAborted();
    if ((await stat(dest).catch(() => null))?.isFile()) {
      result.present.push(spec.path);
      continue;
    }
    logger?.info({ path: spec.path, url: redactUrl(spec.url) }, 'downloading missing model');
    const bar = options.progress === undefined || options.progress === 'bar' ? createProgressBar({ label: spec.path }) : null;
    const onProgress = typeof options.progress === 'function' ? (p: DownloadProgress) => (options.progress as (s: ModelDownloadSpec, p: DownloadProgress) => void)(spec, p) : bar ? (p: DownloadProgress) => bar.update(p) : undefined;
    try {
      const res = await downloadModel({ ...options.downloadOptions, url: spec.url, dest, sha256: spec.sha256, size: spec.size, onProgress, signal: options.signal });
      bar?.done();
      logger?.info({ path: spec.path, bytes: res.bytes, sha256: res.sha256, resumedFrom: res.resumedFrom }, 'model downloaded');
      result.downloaded.push(spec.path);
    } catch (err) {
      bar?.done();
      if (options.signal?.aborted) throw err;
      const error = err instanceof Error ? err : new Error(String(err));
      logger?.error({ path: spec.path, err: error }, 'model download failed');
      failures.push({ path: spec.path, error });
    }
  }
  if (failures.length > 0) throw new DefaultModelsError(failures);
  return result;
}
