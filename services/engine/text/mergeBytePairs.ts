/**
 * The byte-pair merge loop CLIP's `SimpleTokenizer.bpe` and GPT-2's `encoder.py` `bpe()`
 * share: find the adjacent pair with the lowest merge rank, merge every occurrence of it
 * left to right, and repeat until no adjacent pair has a rank. The tokenizers differ only in
 * what they hand in (CLIP marks the word's end with `</w>` on its last symbol first) and in
 * what they do with the symbols that come out.
 */

/** Merges `symbols` by `ranks`, keyed `first + separator + second` (0 = merged first). */
export function mergeBytePairs(symbols: string[], ranks: ReadonlyMap<string, number>, separator: string): string[] {
  let word = symbols;
  while (word.length > 1) {
    let best = Infinity;
    let first = '';
    let second = '';
    for (let i = 0; i < word.length - 1; i++) {
      const rank = ranks.get(word[i] + separator + word[i + 1]);
      if (rank !== undefined && rank < best) {
        best = rank;
        first = word[i];
        second = word[i + 1];
      }
    }
    if (best === Infinity) break;
    const merged: string[] = [];
    for (let i = 0; i < word.length; ) {
      if (i < word.length - 1 && word[i] === first && word[i + 1] === second) {
        merged.push(first + second);
        i += 2;
      } else {
        merged.push(word[i]);
        i += 1;
      }
    }
    word = merged;
  }
  return word;
}
