/**
 * Prompt → CLIP input chunks, as Fooocus builds them for SDXL (F `ldm_patched/modules/sd1_clip.py`
 * `SDTokenizer.tokenize_with_weights`, ComfyUI's tokenizer; `sdxl_clip.py` for the pad ids).
 *
 *   1. Emphasis is parsed first (`promptWeights.ts`); each weighted segment is split on spaces
 *      (newlines count as spaces) and every word is BPE-encoded alone. CLIP's regex never joins
 *      pieces across a space, so the ids are those of the whole text; what the words decide is
 *      where chunks may break (2).
 *   2. Words are packed into chunks of 75 content tokens, each sent as
 *      `[BOS] + tokens + [EOS] + pad…` = 77 ids. A word of fewer than 8 tokens that does not fit
 *      is moved whole to a new chunk (the current one is closed and padded first); a word of 8 or
 *      more tokens fills the current chunk and continues in the next.
 *   3. CLIP-L pads with EOS (49407), CLIP-G with 0 (`pad_with_end=False`). The causal mask hides
 *      padding from the real tokens, but SDXL's context holds the hidden state of every position,
 *      padding included, so the pad id changes the conditioning and must match per encoder
 *      (golden README §3: 3.3 relative error with the other one).
 *   4. An empty prompt is one chunk `[BOS, EOS, pad×75]`.
 *
 * BOS, EOS and padding carry weight 1; content tokens carry their segment's weight.
 *
 * Textual-inversion embeddings: Fooocus passes its embeddings folder to this tokenizer, so a word
 * starting with `embedding:` names an embedding file. This service ships no embeddings, which is
 * Fooocus with an empty folder: the word is dropped (Fooocus logs "embedding:… does not exist,
 * ignoring"), except for the trailing-comma remainder the reference re-tokenises (below).
 */
import { encode, END_OF_TEXT_ID, START_OF_TEXT_ID } from './clipTokenizer.ts';
import { parsePromptWeights } from './promptWeights.ts';

/** Ids per CLIP forward pass: BOS + 75 content tokens + EOS. */
export const CHUNK_LENGTH = 77;
/** CLIP-L (`SDXLClipL`/`SD1Tokenizer`) pads with its end token. */
export const CLIP_L_PAD_ID = END_OF_TEXT_ID;
/** CLIP-G (`SDXLClipGTokenizer`, `pad_with_end=False`) pads with 0 (the `!` token). */
export const CLIP_G_PAD_ID = 0;

/** Words this long (in tokens) may be split across chunks; shorter ones are kept whole. */
const MAX_WORD_LENGTH = 8;
const EMBEDDING_PREFIX = 'embedding:';

export interface TokenChunk {
  /** CHUNK_LENGTH token ids: BOS, content, EOS, padding. */
  readonly ids: number[];
  /** CHUNK_LENGTH emphasis weights, aligned with `ids`. */
  readonly weights: number[];
}

export interface SdxlTokens {
  readonly clipL: TokenChunk[];
  readonly clipG: TokenChunk[];
}

interface WeightedToken {
  readonly id: number;
  readonly weight: number;
}

/** Chunks of `text` for one CLIP encoder, padded with `padId`. */
export function tokenizePrompt(text: string, padId: number): TokenChunk[] {
  return packChunks(tokenizeWords(text), padId);
}

/** Chunks for both SDXL text encoders (same tokens and chunk boundaries, different padding). */
export function tokenizeForSdxl(text: string): SdxlTokens {
  const words = tokenizeWords(text);
  return { clipL: packChunks(words, CLIP_L_PAD_ID), clipG: packChunks(words, CLIP_G_PAD_ID) };
}

/**
 * The "empty" sequence Fooocus encodes next to a weighted prompt (`gen_empty_tokens`): the
 * reference point of `applyTokenWeights`. Same ids as the chunk of an empty prompt.
 */
export function emptyChunkIds(padId: number): number[] {
  const ids = new Array<number>(CHUNK_LENGTH).fill(padId);
  ids[0] = START_OF_TEXT_ID;
  ids[1] = END_OF_TEXT_ID;
  return ids;
}

/** One token list per word, in prompt order. */
function tokenizeWords(text: string): WeightedToken[][] {
  const words: WeightedToken[][] = [];
  for (const segment of parsePromptWeights(text)) {
    for (const rawWord of segment.text.replaceAll('\n', ' ').split(' ')) {
      if (rawWord === '') continue;
      const word = rawWord.startsWith(EMBEDDING_PREFIX) ? missingEmbeddingRemainder(rawWord) : rawWord;
      if (word === '') continue;
      words.push(encode(word).map((id) => ({ id, weight: segment.weight })));
    }
  }
  return words;
}

/**
 * What the reference still tokenises of an `embedding:name` word when no such embedding exists
 * (`_try_get_embedding`): if stripping commas from both ends of the name shortens it, the name is
 * retried without them and `name[len(stripped):]` is tokenised; otherwise nothing is. For the
 * usual `embedding:name,` that remainder is the `,`. (The reference slices by length, so with
 * a leading comma `,ab,` yields `b,`, not `,`; reproduced as is.)
 */
function missingEmbeddingRemainder(word: string): string {
  const name = word.slice(EMBEDDING_PREFIX.length);
  const stripped = name.replace(/^,+|,+$/g, '');
  if (stripped.length < name.length) return Array.from(name).slice(Array.from(stripped).length).join('');
  return '';
}

function packChunks(words: readonly WeightedToken[][], padId: number): TokenChunk[] {
  const chunks: TokenChunk[] = [];
  let ids: number[] = [START_OF_TEXT_ID];
  let weights: number[] = [1];
  const close = () => {
    ids.push(END_OF_TEXT_ID);
    weights.push(1);
    while (ids.length < CHUNK_LENGTH) {
      ids.push(padId);
      weights.push(1);
    }
    chunks.push({ ids, weights });
    ids = [START_OF_TEXT_ID];
    weights = [1];
  };
  for (const word of words) {
    const splittable = word.length >= MAX_WORD_LENGTH;
    let rest = word;
    while (rest.length > 0) {
      const room = CHUNK_LENGTH - 1 - ids.length;
      if (rest.length <= room) {
        for (const t of rest) {
          ids.push(t.id);
          weights.push(t.weight);
        }
        rest = [];
      } else {
        if (splittable) {
          for (const t of rest.slice(0, room)) {
            ids.push(t.id);
            weights.push(t.weight);
          }
          rest = rest.slice(room);
        }
        close();
      }
    }
  }
  close();
  return chunks;
}
