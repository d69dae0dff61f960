import { readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { clipBpeVocabulary } from './clipBpeVocabulary.ts';
import { CLIP_VOCAB_SIZE, encode, END_OF_TEXT_ID, START_OF_TEXT_ID } from './clipTokenizer.ts';

const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..');
const sharedDir = process.env.FOOOCUS_SHARED ?? path.resolve(repoRoot, '../shared');

interface BpeCase {
  text: string;
  ids: number[];
}
const bpeCases = (
  JSON.parse(readFileSync(path.join(sharedDir, 'golden/cases.json'), 'utf8')) as {
    cases: { tokenizer_bpe: { items: BpeCase[] } };
  }
).cases.tokenizer_bpe.items;

describe('CLIP BPE vocabulary', () => {
  it('loads the 48,894 merges from the shipped gzip', () => {
    const vocab = clipBpeVocabulary();
    expect(vocab.mergeRanks.size).toBe(48894);
  });

  it('lays out ids as CLIP does: bytes, bytes+</w>, merges, then the two specials', () => {
    const { symbolIds, byteSymbols } = clipBpeVocabulary();
    expect(symbolIds.size).toBe(CLIP_VOCAB_SIZE);
    expect(symbolIds.get('!')).toBe(0);
    expect(symbolIds.get('!</w>')).toBe(256);
    expect(byteSymbols[0x20]).toBe('Ġ'); // space is remapped, never a raw space in a symbol
    expect(symbolIds.get('in')).toBe(512); // first merge line "i n"
    expect(symbolIds.get('<|startoftext|>')).toBe(START_OF_TEXT_ID);
    expect(symbolIds.get('<|endoftext|>')).toBe(END_OF_TEXT_ID);
  });
});

describe('encode (raw CLIP BPE)', () => {
  it.each(bpeCases)('matches openai/CLIP for $text', ({ text, ids }) => {
    expect(encode(text)).toEqual(ids);
  });

  it('gives the same ids on a second call (BPE cache hit)', () => {
    const text = bpeCases[1].text;
    expect(encode(text)).toEqual(bpeCases[1].ids);
    expect(encode(text)).toEqual(bpeCases[1].ids);
  });

  it('returns no ids for empty or whitespace-only text', () => {
    expect(encode('')).toEqual([]);
    expect(encode(' \t\n\u3000 ')).toEqual([]);
  });

  it('unescapes HTML entities twice, as basic_clean does', () => {
    const amp = encode('a & b');
    expect(encode('a &amp; b')).toEqual(amp);
    expect(encode('a &amp;amp; b')).toEqual(amp);
    expect(encode('a &#38; b')).toEqual(amp);
    // A third level is left alone: the text still reads "&amp;" and is tokenised as such.
    const literal = [...encode('a'), ...encode('&'), ...encode('amp'), ...encode(';'), ...encode('b')];
    expect(encode('a &amp;amp;amp; b')).toEqual(literal);
  });

  it('lower-cases and NFC-normalises before splitting', () => {
    expect(encode('CAFÉ')).toEqual(encode('café'));
    expect(encode('cafe\u0301')).toEqual(encode('caf\u00e9'));
  });

  it('maps the special-token strings in text to their ids', () => {
    expect(encode('<|startoftext|>a<|endoftext|>')).toEqual([START_OF_TEXT_ID, ...encode('a'), END_OF_TEXT_ID]);
  });

  it('skips U+0345 like whitespace, as the Python regex module does', () => {
    // β + U+0345 has no precomposed form, so NFC keeps the combining mark. Ids from openai/CLIP
    // SimpleTokenizer (Python `regex` module): β, γ, each a piece of its own.
    expect(encode('\u03b2\u0345\u03b3')).toEqual([138, 366, 138, 367]);
  });

  it('keeps contractions as their own pieces', () => {
    expect(encode("it's")).toEqual([...encode('it'), ...encode("'s")]);
    expect(encode("'s")).toHaveLength(1);
  });
});
