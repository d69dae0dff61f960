// Fooocus' per-image prompt expansion of `__wildcard__` placeholders and `[[a,b,c]]` arrays
// (F modules/util.py `apply_wildcards`, `apply_arrays`), run for image i with that image's
// `random.Random(task_seed)`, before styles (so "Random Style" draws from the same rng after
// the wildcards, as in Fooocus).
//
// Wildcard word lists are files (`wildcards/<name>.txt` in Fooocus). This deployment ships
// none yet, so `words` defaults to "no list": Fooocus then uses the placeholder's name as a
// plain word ("__color__" → "color") and draws nothing from the rng, which is exactly what
// happens here. Pass `words` to plug in lists later without changing the call sites.
import type { PythonRandom } from '../core/styles/pythonRandom.ts';

/** Fooocus `wildcards_max_bfs_depth`. */
const MAX_DEPTH = 64;
/** Python's `__([\w-]+)__` (Unicode \w). */
const PLACEHOLDER = /__([\p{L}\p{N}\p{Mn}\p{Pc}-]+)__/gu;
const ARRAY = /\[\[(.*?)\]\]/g;

export type WildcardWords = (name: string) => readonly string[] | null;

const noWords: WildcardWords = () => null;

/** F `apply_wildcards(text, rng, i, read_wildcards_in_order)`. */
export function applyWildcards(
  text: string,
  rng: PythonRandom,
  imageIndex: number,
  readInOrder: boolean,
  words: WildcardWords = noWords,
): string {
  let out = text;
  for (let depth = 0; depth < MAX_DEPTH; depth++) {
    const placeholders = [...out.matchAll(PLACEHOLDER)].map((m) => m[1]);
    if (placeholders.length === 0) return out;
    for (const name of placeholders) {
      const list = (words(name) ?? []).filter((w) => w !== '');
      if (list.length === 0) {
        out = out.replaceAll(`__${name}__`, name); // missing list: the name as a normal word
        continue;
      }
      const word = readInOrder ? list[imageIndex % list.length] : rng.choice(list);
      out = out.replace(`__${name}__`, () => word);
    }
  }
  return out;
}

/** F `apply_arrays(text, index)`: `[[a,b]]` picks by image index, mixed-radix over several arrays. */
export function applyArrays(text: string, imageIndex: number): string {
  const arrays = [...text.matchAll(ARRAY)].map((m) => m[1]);
  let out = text;
  let mult = 1;
  for (const arr of arrays) {
    const words = arr.split(',');
    const word = words[Math.floor(imageIndex / mult) % words.length];
    out = out.replace(`[[${arr}]]`, () => word);
    mult *= words.length;
  }
  return out;
}
