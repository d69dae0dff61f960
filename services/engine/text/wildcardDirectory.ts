/**
 * A wildcards folder (Fooocus `wildcards/`; which folder is the worker's configuration): every
 * `*.txt` file below it, read once, served to applyWildcards as a WildcardLoader.
 *
 * Fooocus lists the folder recursively at start (`get_files_from_folder(path_wildcards,
 * ['.txt'])`, os.walk bottom-up, files sorted case-insensitively within a folder) and takes the
 * FIRST file whose stem equals the placeholder, so a file in a sub-folder wins over one at the
 * top. os.walk visits sub-folders in directory order, which the file system decides; here they
 * are visited in sorted order so the choice is the same on every machine. Files are decoded as
 * UTF-8 and split with Python's `str.splitlines()` rules.
 */
import { readdir, readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import type { WildcardLoader } from './wildcards.ts';

/** How deep the folder is walked (guards against symlink loops). */
const MAX_DEPTH = 16;

/** Reads every wildcard list under `dir`; a missing folder gives a loader that knows none. */
export async function loadWildcardDirectory(dir: string): Promise<WildcardLoader> {
  const files: string[] = [];
  await walkBottomUp(dir, 0, files);
  const lists = new Map<string, string[]>();
  for (const path of files) {
    const base = path.slice(path.lastIndexOf('/') + 1);
    const stem = base.slice(0, base.length - '.txt'.length);
    if (lists.has(stem)) continue; // first match wins, as `matches[0]` in Fooocus
    lists.set(stem, pythonSplitlines(await readFile(path, 'utf8')));
  }
  return wildcardLoaderFromMap(lists);
}

/** A loader over lists already in memory (tests, or wildcards shipped with a preset). */
export function wildcardLoaderFromMap(lists: ReadonlyMap<string, readonly string[]> | Record<string, readonly string[]>): WildcardLoader {
  const map = lists instanceof Map ? lists : new Map(Object.entries(lists));
  return (name) => map.get(name) ?? null;
}

/** Python `str.splitlines()` (no keepends): the line boundaries Python recognises. */
export function pythonSplitlines(text: string): string[] {
  const lines = text.split(/\r\n|[\n\r\v\f\x1c\x1d\x1e\x85\u2028\u2029]/);
  if (lines.length > 0 && lines[lines.length - 1] === '') lines.pop();
  return lines;
}

async function walkBottomUp(dir: string, depth: number, out: string[]): Promise<void> {
  if (depth > MAX_DEPTH) return;
  const entries = await readdir(dir, { withFileTypes: true }).catch(() => []);
  const folders: string[] = [];
  const files: string[] = [];
  for (const entry of entries) {
    let isDir = entry.isDirectory();
    let isFile = entry.isFile();
    if (entry.isSymbolicLink()) {
      const target = await stat(join(dir, entry.name)).catch(() => null); // dangling links are skipped
      isDir = target?.isDirectory() ?? false;
      isFile = target?.isFile() ?? false;
    }
    if (isDir) folders.push(entry.name);
    else if (isFile && entry.name.toLowerCase().endsWith('.txt') && entry.name.length > 4) files.push(entry.name);
  }
  for (const folder of folders.sort(byCodePoint)) await walkBottomUp(join(dir, folder), depth + 1, out);
  // Python `sorted(files, key=str.casefold)`: code-point order of the folded names, stable.
  files.sort((a, b) => byCodePoint(a.toLowerCase(), b.toLowerCase()) || byCodePoint(a, b));
  for (const name of files) out.push(join(dir, name));
}

function byCodePoint(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
