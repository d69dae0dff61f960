/**
 * Fooocus wildcards: `__name__` in a prompt becomes a line of `wildcards/name.txt`
 * (F modules/util.py `apply_wildcards`, pipeline.md §1.2 step 3), reproduced rule for rule so
 * the same seed picks the same words:
 *
 *   - breadth-first passes, at most 64 (F modules/config.py `wildcards_max_bfs_depth`): each pass
 *     finds every placeholder with Python's `__([\w-]+)__` (non-overlapping, left to right,
 *     duplicates included) and resolves them in that order; a pass that finds none ends it. A
 *     list whose lines contain placeholders is therefore expanded in the next pass, and a list
 *     that refers to itself stops after 64 passes with the placeholder left in the text;
 *   - each placeholder replaces the FIRST occurrence of `__name__` in the current text, with
 *     `rng.choice(lines)` (random mode) or `lines[imageIndex % n]` (`read_wildcards_in_order`);
 *   - lines are the file's `str.splitlines()` minus empty strings (whitespace-only lines stay);
 *   - a missing or empty list replaces EVERY occurrence with the bare name ("__color__" →
 *     "color") and draws nothing from the rng.
 *
 * `rng` is the image's `task_rng = random.Random(task_seed)`: Fooocus draws the prompt's
 * wildcards, then the negative's, then the extra lines', then "Random Style" from that one
 * generator (see resolveImagePrompts.ts), so it must be CPython's generator bit for bit —
 * services/shared/pythonRandom.ts.
 *
 * Pure: the word lists come from a loader (wildcardDirectory.ts reads a folder once).
 */
import type { PythonRandom } from '../../shared/pythonRandom.ts';

/** Fooocus `wildcards_max_bfs_depth`. */
export const WILDCARDS_MAX_BFS_DEPTH = 64;

/**
 * The lines of the wildcard list `name` (as `str.splitlines()` gives them), or null when there
 * is no such list. Empty lines are dropped by applyWildcards, as Fooocus does.
 */
export type WildcardLoader = (name: string) => readonly string[] | null;

/** The draws applyWildcards makes; PythonRandom is the implementation that matches Fooocus. */
export type WildcardRandom = Pick<PythonRandom, 'choice'>;

export interface WildcardOptions {
  rng: WildcardRandom;
  /** 0-based image index within the request (Fooocus `i`). */
  imageIndex: number;
  /** FooocusAPI `read_wildcards_in_order`: line `imageIndex % n` instead of a random line. */
  readInOrder: boolean;
  load: WildcardLoader;
}

/**
 * Python's `__([\w-]+)__`. Python 3's `\w` on str is Unicode letters, numbers and `_`
 * (str.isalnum() or '_'); combining marks are not included, so neither are they here.
 */
const PLACEHOLDER = /__([\p{L}\p{N}_-]+)__/gu;

/** F `apply_wildcards(text, rng, i, read_wildcards_in_order)`. */
export function applyWildcards(text: string, options: WildcardOptions): string {
  const { rng, imageIndex, readInOrder, load } = options;
  let out = text;
  for (let depth = 0; depth < WILDCARDS_MAX_BFS_DEPTH; depth++) {
    const placeholders = Array.from(out.matchAll(PLACEHOLDER), (m) => m[1]);
    if (placeholders.length === 0) return out;
    for (const name of placeholders) {
      const token = `__${name}__`;
      const words = (load(name) ?? []).filter((w) => w !== '');
      if (words.length === 0) {
        out = out.split(token).join(name); // Python str.replace without a count: every occurrence
        continue;
      }
      const word = readInOrder ? words[imageIndex % words.length] : rng.choice(words);
      out = out.replace(token, () => word); // first occurrence only; a function keeps '$' literal
    }
  }
  return out;
}
