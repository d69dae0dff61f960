/**
 * openai/CLIP `SimpleTokenizer.encode`: text → raw BPE ids (no BOS/EOS, no padding).
 *
 * Reproduced step for step, because SDXL's embedding tables are indexed by these ids and one
 * different split changes the image: clean the text (`cleanClipText.ts`), split it with CLIP's
 * regex, UTF-8 encode each piece and map every byte to its GPT-2 printable symbol, mark the last
 * symbol with `</w>`, then repeatedly merge the adjacent pair of lowest rank (all its
 * occurrences, left to right) until no ranked pair is left.
 *
 * Prompt words repeat a lot (every prompt is tokenised word by word, twice per SDXL job, and
 * styles add the same words to every job), so BPE results are cached per piece. Unlike CLIP's
 * unbounded dict the cache here is bounded: a long-running worker sees unbounded user text.
 */
import {
  clipBpeVocabulary,
  END_OF_TEXT_ID,
  PAIR_SEPARATOR,
  START_OF_TEXT_ID,
  type ClipBpeVocabulary,
} from './clipBpeVocabulary.ts';
import { cleanClipText } from './cleanClipText.ts';
import { mergeBytePairs } from './mergeBytePairs.ts';

export { START_OF_TEXT_ID, END_OF_TEXT_ID, CLIP_VOCAB_SIZE } from './clipBpeVocabulary.ts';

/**
 * CLIP's split pattern (`regex` module, IGNORECASE). `\s` is spelled `\p{White_Space}` because
 * that is what the Python `regex` module matches; JavaScript's `\s` also matches U+FEFF.
 * Checked against the `regex` module code point by code point: the three classes and the
 * case-folded literals (`'ſ` matches `'s` in both) agree everywhere but on U+0345 (see below).
 */
const PIECE_PATTERN =
  /<\|startoftext\|>|<\|endoftext\|>|'s|'t|'re|'ve|'m|'ll|'d|[\p{L}]+|[\p{N}]|[^\p{White_Space}\p{L}\p{N}]+/giu;

/**
 * U+0345 COMBINING GREEK YPOGEGRAMMENI (category Mn) case-folds to the letter ι. Under JavaScript's
 * `/iu` it therefore matches `[\p{L}]`; the `regex` module matches it with none of the classes,
 * so Python skips it like whitespace (and it ends the piece it interrupts). A space does the same.
 */
const SKIPPED_BY_PYTHON = /\u0345/g;

/** Pieces kept in the BPE cache before the oldest are dropped (a few MB for prompt-sized pieces). */
const BPE_CACHE_LIMIT = 50_000;

const bpeCache = new Map<string, readonly number[]>();

/** Raw CLIP BPE ids of `text`, without start/end tokens. */
export function encode(text: string): number[] {
  const vocab = clipBpeVocabulary();
  const ids: number[] = [];
  for (const match of cleanClipText(text).replace(SKIPPED_BY_PYTHON, ' ').matchAll(PIECE_PATTERN)) {
    for (const id of encodePiece(match[0], vocab)) ids.push(id);
  }
  return ids;
}

function encodePiece(piece: string, vocab: ClipBpeVocabulary): readonly number[] {
  let ids = bpeCache.get(piece);
  if (ids) return ids;
  // The special-token strings are matched whole by the pattern and, being ASCII, byte-encode to
  // themselves; CLIP seeds its cache with them so they map straight to ids 49406/49407.
  if (piece === '<|startoftext|>') {
    ids = [START_OF_TEXT_ID];
  } else if (piece === '<|endoftext|>') {
    ids = [END_OF_TEXT_ID];
  } else {
    let encoded = '';
    for (const byte of Buffer.from(piece, 'utf8')) encoded += vocab.byteSymbols[byte];
    ids = bpe(encoded, vocab.mergeRanks).map((symbol) => {
      const id = vocab.symbolIds.get(symbol);
      // Unreachable with CLIP's file: every single byte symbol and every merge result is listed.
      if (id === undefined) throw new Error(`CLIP BPE produced a symbol outside the vocabulary: ${symbol}`);
      return id;
    });
  }
  if (bpeCache.size >= BPE_CACHE_LIMIT) bpeCache.delete(bpeCache.keys().next().value as string);
  bpeCache.set(piece, ids);
  return ids;
}

/** `SimpleTokenizer.bpe` on one byte-encoded piece; returns its symbols. */
function bpe(token: string, ranks: ReadonlyMap<string, number>): string[] {
  // Byte symbols are all in the BMP, so UTF-16 units are code points here.
  const word = token.split('');
  word[word.length - 1] += '</w>';
  return mergeBytePairs(word, ranks, PAIR_SEPARATOR);
}
