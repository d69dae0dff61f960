/**
 * GPT-2 byte-level BPE (openai/gpt-2 `encoder.py`, HF `GPT2Tokenizer`), read
 * from the `vocab.json` + `merges.txt` every Fooocus install ships in its
 * expansion folder, so nothing is bundled and the user's files decide.
 *
 * encode: split out the special tokens (`<|endoftext|>`) whole, as HF does
 * for added tokens; split the rest with GPT-2's pattern; UTF-8 encode each
 * piece and map every byte to its printable `bytes_to_unicode` symbol; merge
 * adjacent pairs by rank (lowest first, every occurrence left to right) until
 * no ranked pair is left; look the symbols up in vocab.json. No BOS is added
 * (Fooocus tokenizes with GPT2's defaults, which add none).
 *
 * decode: ids → symbols → bytes → UTF-8 with U+FFFD for broken sequences
 * (`errors="replace"`), special tokens skipped by default, then HF's
 * `clean_up_tokenization` (" ," → "," …), on by default because Fooocus's
 * pinned transformers (4.x before 4.45) applies it in `batch_decode`.
 *
 * `\s` of the pattern is spelled `\p{White_Space}`: that is what the Python
 * `regex` module matches, and JavaScript's `\s` also matches U+FEFF (see
 * clipTokenizer.ts for the same finding).
 */
import { readFileSync } from 'node:fs';
import { CheckpointError } from '../io/engineErrors.ts';
import { mergeBytePairs } from './mergeBytePairs.ts';

/** GPT-2's pre-tokenisation regex (case-sensitive, unlike CLIP's). */
const PIECE_PATTERN =
  /'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\p{White_Space}\p{L}\p{N}]+|\p{White_Space}+(?!\P{White_Space})|\p{White_Space}+/gu;

export const GPT2_END_OF_TEXT = '<|endoftext|>';

/** Pieces kept in the BPE cache before the oldest are dropped. */
const BPE_CACHE_LIMIT = 50_000;

export interface Gpt2DecodeOptions {
  /** Drop special tokens (`<|endoftext|>`). Default true. */
  skipSpecialTokens?: boolean;
  /** HF `clean_up_tokenization` (" ." → ".", " ," → ",", " n't" → "n't", …). Default true. */
  cleanUpTokenizationSpaces?: boolean;
}

export interface Gpt2TokenizerFiles {
  vocabPath: string;
  mergesPath: string;
  /** Special token strings. Default: `<|endoftext|>`. */
  specialTokens?: readonly string[];
}

export class Gpt2Tokenizer {
  private readonly cache = new Map<string, readonly number[]>();
  private readonly specialPattern: RegExp | null;
  readonly specialIds: ReadonlySet<number>;

  private constructor(
    /** Symbol → id, as vocab.json lists it. */
    readonly vocab: ReadonlyMap<string, number>,
    private readonly idToSymbol: readonly (string | undefined)[],
    private readonly mergeRanks: ReadonlyMap<string, number>,
    private readonly special: ReadonlyMap<string, number>,
  ) {
    this.specialIds = new Set(special.values());
    this.specialPattern = special.size
      ? new RegExp([...special.keys()].sort((a, b) => b.length - a.length).map(escapeRegExp).join('|'), 'g')
      : null;
  }

  /** From vocab.json and merges.txt; CheckpointError (not_found / bad_header) naming the file when either is unusable. */
  static fromFiles(files: Gpt2TokenizerFiles): Gpt2Tokenizer {
    const vocabText = readText(files.vocabPath);
    let raw: unknown;
    try {
      raw = JSON.parse(vocabText);
    } catch (e) {
      throw new CheckpointError(files.vocabPath, 'bad_header', `vocab.json is not valid JSON: ${(e as Error).message}`, { cause: e });
    }
    if (!raw || typeof raw !== 'object' || Array.isArray(raw)) throw new CheckpointError(files.vocabPath, 'bad_header', 'vocab.json is not an object of token → id');
    const vocab = new Map<string, number>();
    const idToSymbol: (string | undefined)[] = [];
    for (const [symbol, id] of Object.entries(raw as Record<string, unknown>)) {
      if (typeof id !== 'number' || !Number.isInteger(id) || id < 0) throw new CheckpointError(files.vocabPath, 'bad_header', `token ${JSON.stringify(symbol)} has id ${String(id)}`);
      vocab.set(symbol, id);
      idToSymbol[id] = symbol;
    }
    for (const s of BYTE_SYMBOLS) {
      if (!vocab.has(s)) throw new CheckpointError(files.vocabPath, 'bad_header', `byte symbol ${JSON.stringify(s)} is missing: not a byte-level BPE vocabulary`);
    }

    const mergeRanks = new Map<string, number>();
    const lines = readText(files.mergesPath).split('\n');
    for (let i = 0; i < lines.length; i++) {
      const line = lines[i].replace(/\r$/, '');
      if (line === '' || (i === 0 && line.startsWith('#version'))) continue;
      const parts = line.split(' ');
      if (parts.length !== 2 || !parts[0] || !parts[1]) {
        throw new CheckpointError(files.mergesPath, 'bad_header', `line ${i + 1} is not "first second": ${JSON.stringify(line.slice(0, 60))}`);
      }
      if (!mergeRanks.has(line)) mergeRanks.set(line, mergeRanks.size);
    }

    const special = new Map<string, number>();
    for (const s of files.specialTokens ?? [GPT2_END_OF_TEXT]) {
      const id = vocab.get(s);
      if (id === undefined) throw new CheckpointError(files.vocabPath, 'bad_header', `special token ${s} is not in the vocabulary`);
      special.set(s, id);
    }
    return new Gpt2Tokenizer(vocab, idToSymbol, mergeRanks, special);
  }

  get vocabSize(): number {
    return this.idToSymbol.length;
  }

  /** The id of `<|endoftext|>` (GPT-2's EOS/BOS/UNK), or undefined if this vocabulary lacks it. */
  get endOfTextId(): number | undefined {
    return this.special.get(GPT2_END_OF_TEXT);
  }

  tokenToId(symbol: string): number | undefined {
    return this.vocab.get(symbol);
  }

  idToToken(id: number): string | undefined {
    return this.idToSymbol[id];
  }

  /** Token ids of `text`, no BOS/EOS added. */
  encode(text: string): number[] {
    const ids: number[] = [];
    let last = 0;
    if (this.specialPattern) {
      for (const m of text.matchAll(this.specialPattern)) {
        this.encodeOrdinary(text.slice(last, m.index), ids);
        ids.push(this.special.get(m[0])!);
        last = m.index! + m[0].length;
      }
    }
    this.encodeOrdinary(text.slice(last), ids);
    return ids;
  }

  decode(ids: readonly number[], opts: Gpt2DecodeOptions = {}): string {
    const skip = opts.skipSpecialTokens ?? true;
    const bytes: number[] = [];
    for (const id of ids) {
      if (skip && this.specialIds.has(id)) continue;
      const symbol = this.idToSymbol[id];
      if (symbol === undefined) throw new RangeError(`token id ${id} is outside the vocabulary`);
      if (this.specialIds.has(id)) {
        for (const b of Buffer.from(symbol, 'utf8')) bytes.push(b);
        continue;
      }
      for (const ch of symbol) {
        const b = SYMBOL_BYTES.get(ch);
        // Vocabulary entries are byte symbols only; anything else passes through as its UTF-8.
        if (b === undefined) for (const x of Buffer.from(ch, 'utf8')) bytes.push(x);
        else bytes.push(b);
      }
    }
    const text = new TextDecoder('utf-8').decode(Uint8Array.from(bytes));
    return opts.cleanUpTokenizationSpaces ?? true ? cleanUpTokenization(text) : text;
  }

  private encodeOrdinary(text: string, out: number[]): void {
    if (!text) return;
    for (const match of text.matchAll(PIECE_PATTERN)) for (const id of this.encodePiece(match[0])) out.push(id);
  }

  private encodePiece(piece: string): readonly number[] {
    const hit = this.cache.get(piece);
    if (hit) return hit;
    let encoded = '';
    for (const byte of Buffer.from(piece, 'utf8')) encoded += BYTE_SYMBOLS[byte];
    const ids = bpe(encoded, this.mergeRanks).map((symbol) => {
      const id = this.vocab.get(symbol);
      // Every byte symbol is checked at load; a merge result outside vocab.json means mismatched files.
      if (id === undefined) throw new CheckpointError('vocab.json', 'bad_header', `BPE produced ${JSON.stringify(symbol)}, which vocab.json lacks (vocab.json and merges.txt do not belong together)`);
      return id;
    });
    if (this.cache.size >= BPE_CACHE_LIMIT) this.cache.delete(this.cache.keys().next().value as string);
    this.cache.set(piece, ids);
    return ids;
  }
}

/** HF `PreTrainedTokenizerBase.clean_up_tokenization`. */
export function cleanUpTokenization(s: string): string {
  return s
    .replaceAll(' .', '.')
    .replaceAll(' ?', '?')
    .replaceAll(' !', '!')
    .replaceAll(' ,', ',')
    .replaceAll(" ' ", "'")
    .replaceAll(" n't", "n't")
    .replaceAll(" 'm", "'m")
    .replaceAll(" 's", "'s")
    .replaceAll(" 've", "'ve")
    .replaceAll(" 're", "'re");
}

/** `bpe()` of encoder.py on one byte-symbol string. */
function bpe(token: string, ranks: ReadonlyMap<string, number>): string[] {
  // Byte symbols are all in the BMP, so UTF-16 units are symbols here.
  return mergeBytePairs(token.split(''), ranks, ' ');
}

/**
 * GPT-2 `bytes_to_unicode`: printable Latin-1 bytes stand for themselves, the
 * other 68 (controls, space, 0x7f–0xa0, 0xad) get U+0100 onwards in byte
 * order (space → 'Ġ', newline → 'Ċ').
 */
const BYTE_SYMBOLS: readonly string[] = (() => {
  const symbols = new Array<string>(256);
  let next = 256;
  for (let b = 0; b < 256; b++) {
    const printable = (b >= 0x21 && b <= 0x7e) || (b >= 0xa1 && b <= 0xac) || (b >= 0xae && b <= 0xff);
    symbols[b] = String.fromCharCode(printable ? b : next++);
  }
  return symbols;
})();

const SYMBOL_BYTES: ReadonlyMap<string, number> = new Map(BYTE_SYMBOLS.map((s, b) => [s, b]));

function readText(path: string): string {
  try {
    return readFileSync(path, 'utf8');
  } catch (e) {
    throw new CheckpointError(path, 'not_found', (e as Error).message, { cause: e });
  }
}

function escapeRegExp(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}
