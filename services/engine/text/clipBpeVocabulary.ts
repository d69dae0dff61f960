/**
 * The CLIP BPE vocabulary (openai/CLIP `SimpleTokenizer`, shared by CLIP-L and CLIP-G).
 *
 * Built from the merges file openai/CLIP ships (`data/bpe_simple_vocab_16e6.txt.gz`, MIT, see
 * `data/LICENSE`), exactly as `SimpleTokenizer.__init__` builds it:
 *   - ids 0..255: the 256 byte symbols of GPT-2's `bytes_to_unicode`, in that table's order;
 *   - ids 256..511: the same symbols with the end-of-word marker `</w>`;
 *   - ids 512..49405: one symbol per merge, for lines 2..48895 of the file (line 1 is a version
 *     header; CLIP keeps only the first 49152 - 256 - 2 merges so the vocabulary has 49408 rows);
 *   - 49406 `<|startoftext|>`, 49407 `<|endoftext|>`.
 * A merge's rank is its position among those lines (lower merges first).
 *
 * The file stays gzipped in the repository (1.3 MB instead of 1.8 MB) and is parsed on first use
 * only, then cached for the life of the process: workers that never tokenise pay nothing, and
 * parsing ~49k lines takes a few tens of milliseconds.
 */
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { gunzipSync } from 'node:zlib';

export const START_OF_TEXT_ID = 49406;
export const END_OF_TEXT_ID = 49407;
export const CLIP_VOCAB_SIZE = 49408;

/** How many merge lines CLIP uses (the file holds 262144; the rest are never reached). */
const MERGE_COUNT = 49152 - 256 - 2;

const MERGES_FILE = fileURLToPath(new URL('./data/bpe_simple_vocab_16e6.txt.gz', import.meta.url));

/** Separates the two halves of a merge key; byte symbols never contain a space (space is `Ġ`). */
export const PAIR_SEPARATOR = ' ';

export interface ClipBpeVocabulary {
  /** GPT-2 `bytes_to_unicode`: byte value → the printable character standing for it. */
  readonly byteSymbols: readonly string[];
  /** `first + PAIR_SEPARATOR + second` → merge rank (0 = merged first). */
  readonly mergeRanks: ReadonlyMap<string, number>;
  /** Symbol (byte symbols, `…</w>` symbols, merged symbols, the two specials) → token id. */
  readonly symbolIds: ReadonlyMap<string, number>;
}

let vocabulary: ClipBpeVocabulary | undefined;

/** The vocabulary, parsed from the shipped merges file on first call. */
export function clipBpeVocabulary(): ClipBpeVocabulary {
  vocabulary ??= buildVocabulary(gunzipSync(readFileSync(MERGES_FILE)).toString('utf8'));
  return vocabulary;
}

function buildVocabulary(mergesText: string): ClipBpeVocabulary {
  const { byteSymbols, vocabularyOrder } = gpt2ByteSymbols();
  const symbolIds = new Map<string, number>();
  for (const s of vocabularyOrder) symbolIds.set(s, symbolIds.size);
  for (const s of vocabularyOrder) symbolIds.set(s + '</w>', symbolIds.size);

  const mergeRanks = new Map<string, number>();
  // Walk line by line instead of split('\n'): only the first 48895 of 262145 lines are used.
  let start = mergesText.indexOf('\n') + 1; // skip the "#version: 0.2" header line
  for (let rank = 0; rank < MERGE_COUNT; rank++) {
    let end = mergesText.indexOf('\n', start);
    if (end < 0) end = mergesText.length;
    const line = mergesText.slice(start, end);
    const space = line.indexOf(' ');
    if (space <= 0 || space === line.length - 1 || line.indexOf(' ', space + 1) >= 0) {
      throw new Error(`CLIP merges file: line ${rank + 2} is not "first second": ${JSON.stringify(line)}`);
    }
    mergeRanks.set(line, rank);
    symbolIds.set(line.slice(0, space) + line.slice(space + 1), 512 + rank);
    start = end + 1;
  }
  // CLIP's merges each create a distinct symbol, so the map holds exactly 49408 entries; a
  // different count means the file is not CLIP's and ids would not match the embedding table.
  symbolIds.set('<|startoftext|>', START_OF_TEXT_ID);
  symbolIds.set('<|endoftext|>', END_OF_TEXT_ID);
  if (symbolIds.size !== CLIP_VOCAB_SIZE) {
    throw new Error(`CLIP merges file: built ${symbolIds.size} vocabulary entries, expected ${CLIP_VOCAB_SIZE}`);
  }
  return { byteSymbols, mergeRanks, symbolIds };
}

/**
 * GPT-2's reversible byte → printable-character table. Printable Latin-1 bytes stand for
 * themselves; the other 68 bytes (controls, space, 0x7f-0xa0, 0xad) get U+0100 onwards in byte
 * order. The vocabulary lists the printable ones first, then the remapped ones (dict order of
 * `bytes_to_unicode()`), which is also ascending code-point order of the symbols.
 */
function gpt2ByteSymbols(): { byteSymbols: string[]; vocabularyOrder: string[] } {
  const printable: number[] = [];
  for (let b = 0x21; b <= 0x7e; b++) printable.push(b);
  for (let b = 0xa1; b <= 0xac; b++) printable.push(b);
  for (let b = 0xae; b <= 0xff; b++) printable.push(b);
  const isPrintable = new Set(printable);

  const byteSymbols = new Array<string>(256);
  const vocabularyOrder = printable.map((b) => String.fromCharCode(b));
  for (const b of printable) byteSymbols[b] = String.fromCharCode(b);
  let next = 256;
  for (let b = 0; b < 256; b++) {
    if (isPrintable.has(b)) continue;
    byteSymbols[b] = String.fromCharCode(next++);
    vocabularyOrder.push(byteSymbols[b]);
  }
  return { byteSymbols, vocabularyOrder };
}
