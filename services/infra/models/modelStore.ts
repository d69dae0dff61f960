// The one place that knows the model directory (MODELS_DIR): the folder of each model kind,
// what is in them (what /v1/engines/all-models lists), where a requested name lives
// (modelDirectory.ts does the listing and the name checks; this wraps it, keeping its API),
// each file's sha256 — hashed once and remembered by (path, size, mtime) in the same index as
// the engine's graph cache (services/shared/fileSha256.ts), so a checkpoint is read once for
// both — and where a downloaded file goes (downloadTarget).
//
// Hashes are what Fooocus writes into image metadata ("Model hash", LoRA hashes: the first 10
// hex digits, see engine/image/metadata/generationMetadata.ts).
import { isAbsolute, relative, resolve, sep } from 'node:path';
import { cachedFileSha256 } from '../../shared/fileSha256.ts';
import { listModelFiles, MODEL_KINDS, modelFolder, resolveModelFile, type ModelKind } from './modelDirectory.ts';

export interface ModelStoreOptions {
  /** The models root (the worker's MODELS_DIR). */
  modelsDir: string;
  /**
   * Directory of the hash index (`hashes.json`). Default `<modelsDir>/.onnx-cache`, the
   * engine's default graph-cache directory (worker ENGINE_CACHE_DIR), so both share one index;
   * pass ENGINE_CACHE_DIR when it is set elsewhere.
   */
  hashCacheDir?: string;
  /** How a file is hashed. Default cachedFileSha256 (tests count calls through this). */
  hashFile?: (path: string, cacheDir: string) => Promise<string>;
}

/** A path for a downloaded file that would leave MODELS_DIR, or names nothing. */
export class InvalidModelPathError extends Error {
  constructor(readonly path: string, reason: string) {
    super(`invalid model path ${JSON.stringify(path)}: ${reason}`);
    this.name = 'InvalidModelPathError';
  }
}

export class ModelStore {
  readonly modelsDir: string;
  readonly hashCacheDir: string;
  private readonly hashFile: (path: string, cacheDir: string) => Promise<string>;
  /** Hashes in progress, by absolute path: concurrent callers share one read of the file. */
  private readonly hashing = new Map<string, Promise<string>>();

  constructor(options: ModelStoreOptions) {
    this.modelsDir = resolve(options.modelsDir);
    this.hashCacheDir = resolve(options.hashCacheDir ?? resolve(this.modelsDir, '.onnx-cache'));
    this.hashFile = options.hashFile ?? cachedFileSha256;
  }

  folder(kind: ModelKind): string {
    return modelFolder(this.modelsDir, kind);
  }

  /** Relative names of the model files of one kind, sorted; [] for a missing folder. */
  list(kind: ModelKind): Promise<string[]> {
    return listModelFiles(this.modelsDir, kind);
  }

  /** Every kind's listing (a missing folder lists as empty). */
  async listAll(): Promise<Record<ModelKind, string[]>> {
    const lists = await Promise.all(MODEL_KINDS.map((kind) => this.list(kind)));
    return Object.fromEntries(MODEL_KINDS.map((kind, i) => [kind, lists[i]])) as Record<ModelKind, string[]>;
  }

  /** Absolute path of a requested file (InvalidModelNameError / ModelFileNotFoundError as modelDirectory). */
  resolve(kind: ModelKind, name: string): Promise<string> {
    return resolveModelFile(this.modelsDir, kind, name);
  }

  /** sha256 (hex) of a requested model file, read once per (path, size, mtime). */
  async sha256(kind: ModelKind, name: string): Promise<string> {
    return this.sha256OfPath(await this.resolve(kind, name));
  }

  /** The same for a path already resolved (e.g. the checkpoint the engine was given). */
  sha256OfPath(path: string): Promise<string> {
    const abs = resolve(path);
    const running = this.hashing.get(abs);
    if (running) return running;
    const p = this.hashFile(abs, this.hashCacheDir).finally(() => this.hashing.delete(abs));
    this.hashing.set(abs, p);
    return p;
  }

  /**
   * Where a file named by a path relative to MODELS_DIR goes ("checkpoints/x.safetensors",
   * "safety_checker/model.onnx"). Any extension is allowed — downloads are configured by the
   * operator, not by requests — but the path must stay inside MODELS_DIR.
   */
  downloadTarget(relativePath: string): string {
    const slashed = relativePath.replaceAll('\\', '/');
    if (slashed.trim() === '') throw new InvalidModelPathError(relativePath, 'empty');
    // eslint-disable-next-line no-control-regex
    if (/[\u0000-\u001f\u007f]/.test(slashed)) throw new InvalidModelPathError(relativePath, 'control character');
    if (slashed.startsWith('/') || /^[A-Za-z]:/.test(slashed)) throw new InvalidModelPathError(relativePath, 'absolute path');
    for (const segment of slashed.split('/')) {
      if (segment === '' || segment === '.' || segment === '..') throw new InvalidModelPathError(relativePath, `'${segment}' segment`);
    }
    const target = resolve(this.modelsDir, ...slashed.split('/'));
    const rel = relative(this.modelsDir, target);
    if (rel === '' || rel.startsWith(`..${sep}`) || rel === '..' || isAbsolute(rel)) throw new InvalidModelPathError(relativePath, 'outside the models directory');
    return target;
  }
}
