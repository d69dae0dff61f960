/**
 * Fooocus prompt arrays: `[[red,green,blue]]` picks one comma-separated item per image
 * (F modules/sdxl_styles.py `apply_arrays` / `get_words`, pipeline.md §1.2 step 3). Several
 * arrays count like digits of a mixed-radix number whose first array is the least significant
 * digit, so image i of a request gets combination `i mod (product of the array lengths)`:
 * `[[a,b]] [[x,y,z]]` gives a x, b x, a y, b y, a z, b z, a x, …
 *
 * Rules kept from Fooocus: arrays are found with Python's `\[\[(.*?)\]\]` (non-greedy, not
 * across a newline), items are split on ',' only (no trimming: "[[a, b]]" yields "a" and " b"),
 * and each array replaces the first remaining occurrence of its exact text. Fooocus applies
 * arrays to the main prompt line only, after wildcards (resolveImagePrompts.ts).
 */

/** Python's `\[\[(.*?)\]\]`: Python's `.` excludes only '\n' (JS's also excludes '\r', U+2028/9). */
const ARRAY = /\[\[([^\n]*?)\]\]/g;

/** F `apply_arrays(text, index)`. */
export function applyArrays(text: string, imageIndex: number): string {
  const arrays = Array.from(text.matchAll(ARRAY), (m) => m[1]);
  if (arrays.length === 0) return text;
  const items = arrays.map((a) => a.split(','));
  const combinations = items.reduce((n, words) => n * words.length, 1);
  let index = imageIndex % combinations;
  let out = text;
  for (let i = 0; i < arrays.length; i++) {
    const words = items[i];
    const word = words[index % words.length];
    index = Math.floor(index / words.length);
    out = out.replace(`[[${arrays[i]}]]`, () => word);
  }
  return out;
}
