// The model directory (MODELS_DIR): one folder per kind of model file, as FooocusAPI users
// already lay them out (Fooocus `models/checkpoints`, `models/loras`, …). Requests name a file
// by its path relative to its kind's folder ("sdxl/juggernautXL.safetensors"); listModelFiles
// is what /v1/engines/all-models shows and resolveModelFile turns a requested name into a path.
//
// - Names are '/'-separated relative paths. Backslashes are accepted as separators (names
//   recorded by Fooocus on Windows) and normalised to '/'. Absolute paths, drive letters, '.'
//   and '..' segments, empty segments and control characters are refused (path traversal: a
//   request must not make the worker read /etc/passwd as a "checkpoint"), and so is any name
//   whose extension is not a model extension, so only files the listing shows can be opened.
// - Symbolic links inside the folder are followed (model files are often links into a shared
//   store); containment is checked on the requested path, not on the link target.
// - Listing: recursive, hidden entries (".onnx-cache", ".DS_Store") skipped, sorted by
//   case-folded relative path (Fooocus sorts each folder case-insensitively; one global order
//   is easier to page and diff). A missing folder lists as empty: a fresh install has none.
import { readdir, stat } from 'node:fs/promises';
import { isAbsolute, join, relative, resolve } from 'node:path';
import { NotFoundError, ValidationError } from '../../core/errors.ts';

export const MODEL_KINDS = [
  'checkpoints',
  'loras',
  'vae',
  'embeddings',
  'upscale_models',
  'prompt_expansion',
  'controlnet',
  'clip_vision',
  'inpaint',
] as const;
export type ModelKind = (typeof MODEL_KINDS)[number];

/** Model file extensions Fooocus lists (lower case; matched case-insensitively). */
export const MODEL_FILE_EXTENSIONS = ['.safetensors', '.ckpt', '.pt', '.bin', '.pth'] as const;

/** The FooocusAPI request field that names a file of each kind, for error locations. */
const REQUEST_FIELD: Record<ModelKind, string> = {
  checkpoints: 'base_model_name',
  loras: 'loras',
  vae: 'vae_name',
  embeddings: 'embeddings',
  upscale_models: 'uov_method',
  prompt_expansion: 'style_selections',
  controlnet: 'controlnet_image',
  clip_vision: 'controlnet_image',
  inpaint: 'inpaint_engine',
};

/** How deep listModelFiles descends (guards against symlink loops). */
const MAX_DEPTH = 16;

/** A requested model file does not exist in its folder. */
export class ModelFileNotFoundError extends NotFoundError {
  constructor(
    readonly kind: ModelKind,
    readonly fileName: string,
    readonly folder: string,
  ) {
    super('model', fileName, { message: `model file '${fileName}' not found in ${folder} (${kind})` });
  }
}

/** A model name that cannot name a file in its folder (traversal, wrong extension, …). */
export class InvalidModelNameError extends ValidationError {
  constructor(
    readonly kind: ModelKind,
    readonly fileName: string,
    reason: string,
  ) {
    super([{ type: 'value_error', loc: ['body', REQUEST_FIELD[kind]], msg: `invalid ${kind} file name: ${reason}`, input: fileName }], {
      message: `invalid ${kind} file name ${JSON.stringify(fileName)}: ${reason}`,
    });
  }
}

export function modelFolder(modelsDir: string, kind: ModelKind): string {
  return resolve(modelsDir, kind);
}

export function isModelFileName(name: string): boolean {
  const lower = name.toLowerCase();
  return MODEL_FILE_EXTENSIONS.some((ext) => lower.endsWith(ext) && lower.length > ext.length);
}

/** Relative names ('/'-separated) of the model files of one kind, sorted; [] when the folder is missing. */
export async function listModelFiles(modelsDir: string, kind: ModelKind): Promise<string[]> {
  const root = modelFolder(modelsDir, kind);
  const found: string[] = [];
  await walk(root, '', 0, found);
  return found.sort(compareNames);
}

/**
 * The absolute path of `name` in `kind`'s folder. Throws InvalidModelNameError for a name
 * that could leave the folder or is not a model file, ModelFileNotFoundError when absent.
 */
export async function resolveModelFile(modelsDir: string, kind: ModelKind, name: string): Promise<string> {
  const normalised = normaliseModelName(kind, name);
  const folder = modelFolder(modelsDir, kind);
  const path = resolve(folder, ...normalised.split('/'));
  const rel = relative(folder, path);
  if (rel === '' || rel.startsWith('..') || isAbsolute(rel)) throw new InvalidModelNameError(kind, name, 'outside the model folder');
  const info = await stat(path).catch(() => null);
  if (!info?.isFile()) throw new ModelFileNotFoundError(kind, normalised, folder);
  return path;
}

/** Checks a requested name and returns it with '/' separators. */
export function normaliseModelName(kind: ModelKind, name: string): string {
  if (typeof name !== 'string' || name.trim() === '') throw new InvalidModelNameError(kind, String(name), 'empty');
  // eslint-disable-next-line no-control-regex
  if (/[\u0000-\u001f\u007f]/.test(name)) throw new InvalidModelNameError(kind, name, 'control character');
  const slashed = name.replaceAll('\\', '/');
  if (slashed.startsWith('/') || /^[A-Za-z]:/.test(slashed)) throw new InvalidModelNameError(kind, name, 'absolute path');
  for (const segment of slashed.split('/')) {
    if (segment === '') throw new InvalidModelNameError(kind, name, 'empty path segment');
    if (segment === '.' || segment === '..') throw new InvalidModelNameError(kind, name, `'${segment}' segment`);
  }
  if (!isModelFileName(slashed)) {
    throw new InvalidModelNameError(kind, name, `not a model file (${MODEL_FILE_EXTENSIONS.join(', ')})`);
  }
  return slashed;
}

async function walk(dir: string, prefix: string, depth: number, out: string[]): Promise<void> {
  if (depth > MAX_DEPTH) return;
  const entries = await readdir(dir, { withFileTypes: true }).catch(() => []);
  for (const entry of entries) {
    if (entry.name.startsWith('.')) continue;
    const path = join(dir, entry.name);
    const name = prefix === '' ? entry.name : `${prefix}/${entry.name}`;
    let isDir = entry.isDirectory();
    let isFile = entry.isFile();
    if (entry.isSymbolicLink()) {
      const target = await stat(path).catch(() => null); // dangling links are skipped
      isDir = target?.isDirectory() ?? false;
      isFile = target?.isFile() ?? false;
    }
    if (isDir) await walk(path, name, depth + 1, out);
    else if (isFile && isModelFileName(entry.name)) out.push(name);
  }
}

function compareNames(a: string, b: string): number {
  const fa = a.toLowerCase();
  const fb = b.toLowerCase();
  if (fa !== fb) return fa < fb ? -1 : 1;
  return a < b ? -1 : a > b ? 1 : 0;
}
