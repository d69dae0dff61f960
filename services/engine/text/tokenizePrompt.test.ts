import { readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { openSafetensors } from '../io/safetensors.ts';
import { encode } from './clipTokenizer.ts';
import {
  CHUNK_LENGTH,
  CLIP_G_PAD_ID,
  CLIP_L_PAD_ID,
  emptyChunkIds,
  tokenizeForSdxl,
  tokenizePrompt,
  type TokenChunk,
} from './tokenizePrompt.ts';

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..');
const goldenDir = path.join(process.env.FOOOCUS_SHARED ?? path.resolve(repoRoot, '../shared'), 'golden');

const BOS = 49406;
const EOS = 49407;
const A = encode('a')[0]; // "a</w>", one token

const goldenPrompts = (
  JSON.parse(readFileSync(path.join(goldenDir, 'cases.json'), 'utf8')) as {
    cases: { tokens: { prompts: { index: number; text: string; n_chunks: number }[] } };
  }
).cases.tokens.prompts;

/** Rows of an int64 `[n, 77]` tensor as plain numbers. */
function goldenChunks(name: string): number[][] {
  const file = openSafetensors(path.join(goldenDir, 'cases/tokens.safetensors'));
  try {
    const t = file.tensor(name);
    expect(t.dtype).toBe('I64');
    expect(t.shape[1]).toBe(CHUNK_LENGTH);
    const values = Array.from(t.data as BigInt64Array, Number);
    return Array.from({ length: t.shape[0] }, (_, i) => values.slice(i * CHUNK_LENGTH, (i + 1) * CHUNK_LENGTH));
  } finally {
    file.close();
  }
}

function chunk(content: number[], pad: number, contentWeights?: number[]): TokenChunk {
  const ids = [BOS, ...content, EOS];
  const weights = [1, ...(contentWeights ?? content.map(() => 1)), 1];
  while (ids.length < CHUNK_LENGTH) {
    ids.push(pad);
    weights.push(1);
  }
  return { ids, weights };
}

describe('tokenizeForSdxl — golden token ids (ComfyUI SDXL tokenizer)', () => {
  it.each(goldenPrompts)('prompt p$index gives the reference CLIP-L and CLIP-G chunks', ({ index, text, n_chunks }) => {
    const { clipL, clipG } = tokenizeForSdxl(text);
    expect(clipL).toHaveLength(n_chunks);
    expect(clipL.map((c) => c.ids)).toEqual(goldenChunks(`p${index}.clip_l.ids`));
    expect(clipG.map((c) => c.ids)).toEqual(goldenChunks(`p${index}.clip_g.ids`));
    for (const c of [...clipL, ...clipG]) expect(c.weights).toEqual(new Array(CHUNK_LENGTH).fill(1));
  });
});

describe('tokenizePrompt — chunking', () => {
  it('turns an empty prompt into one chunk [BOS, EOS, pad×75]', () => {
    expect(tokenizePrompt('', CLIP_L_PAD_ID)).toEqual([chunk([], EOS)]);
    expect(tokenizePrompt('', CLIP_G_PAD_ID)).toEqual([chunk([], 0)]);
    expect(tokenizePrompt('   \n ', CLIP_L_PAD_ID)).toEqual([chunk([], EOS)]);
    expect(emptyChunkIds(CLIP_G_PAD_ID)).toEqual(chunk([], 0).ids);
  });

  it('fills a chunk with exactly 75 tokens without opening another', () => {
    const chunks = tokenizePrompt(Array(75).fill('a').join(' '), CLIP_L_PAD_ID);
    expect(chunks).toEqual([chunk(Array(75).fill(A), EOS)]);
  });

  it('moves a word of fewer than 8 tokens whole to the next chunk, padding the current one', () => {
    const word = 'zzzzzzzzzzzzzzzzzzzzzzzzz';
    const wordIds = encode(word);
    expect(wordIds).toHaveLength(7);
    const chunks = tokenizePrompt(`${Array(74).fill('a').join(' ')} ${word} a`, CLIP_G_PAD_ID);
    expect(chunks).toEqual([chunk(Array(74).fill(A), 0), chunk([...wordIds, A], 0)]);
  });

  it('splits a word of 8 or more tokens at the chunk boundary', () => {
    const word = 'zzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzz';
    const wordIds = encode(word);
    expect(wordIds.length).toBeGreaterThanOrEqual(8);
    const chunks = tokenizePrompt(`${Array(73).fill('a').join(' ')} ${word}`, CLIP_L_PAD_ID);
    expect(chunks).toEqual([
      chunk([...Array(73).fill(A), ...wordIds.slice(0, 2)], EOS),
      chunk(wordIds.slice(2), EOS),
    ]);
  });

  it('keeps every chunk at 77 ids and weights for long prompts', () => {
    const text = Array.from({ length: 120 }, (_, i) => (i % 3 === 0 ? `(word${i}:1.2)` : `w${i},`)).join(' ');
    const chunks = tokenizePrompt(text, CLIP_L_PAD_ID);
    expect(chunks.length).toBeGreaterThan(2);
    for (const c of chunks) {
      expect(c.ids).toHaveLength(CHUNK_LENGTH);
      expect(c.weights).toHaveLength(CHUNK_LENGTH);
      expect(c.ids[0]).toBe(BOS);
    }
    const contentIds = chunks.flatMap((c) => c.ids.slice(1).filter((id) => id !== EOS));
    expect(contentIds).toEqual(text.split(' ').flatMap((w) => encode(w.replace(/^\((.*):1\.2\)$/, '$1'))));
  });
});

describe('tokenizePrompt — words and weights', () => {
  it('gives content tokens their segment weight and BOS/EOS/padding weight 1', () => {
    const [c] = tokenizePrompt('(a:1.5) b ((c))', CLIP_L_PAD_ID);
    const b = encode('b')[0];
    const cc = encode('c')[0];
    expect(c).toEqual(chunk([A, b, cc], EOS, [1.5, 1, 1.1 * 1.1]));
  });

  it('splits words on spaces and newlines only', () => {
    expect(tokenizePrompt('a\nb', CLIP_L_PAD_ID)).toEqual(tokenizePrompt('a b', CLIP_L_PAD_ID));
    expect(tokenizePrompt('a,b', CLIP_L_PAD_ID)[0].ids.slice(1, 4)).toEqual(encode('a,b'));
  });

  it('pads CLIP-G with 0 and CLIP-L with EOS around the same tokens', () => {
    const { clipL, clipG } = tokenizeForSdxl('a red fox');
    const content = encode('a red fox');
    expect(clipL).toEqual([chunk(content, EOS)]);
    expect(clipG).toEqual([chunk(content, 0)]);
  });

  it('drops embedding:name words, as Fooocus does when the embedding file does not exist', () => {
    expect(tokenizePrompt('embedding:foo cat', CLIP_L_PAD_ID)).toEqual(tokenizePrompt('cat', CLIP_L_PAD_ID));
    // The trailing comma is re-tokenised by the reference.
    expect(tokenizePrompt('embedding:foo, cat', CLIP_L_PAD_ID)).toEqual(tokenizePrompt(', cat', CLIP_L_PAD_ID));
  });
});
