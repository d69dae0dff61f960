/**
 * GPT-2 byte-level BPE from the expansion folder's vocab.json/merges.txt:
 * golden token ids, well-known GPT-2 ids, lossless round trips, HF's decode
 * rules, and named errors for missing or mismatched files.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { CheckpointError } from '../io/engineErrors.ts';
import { openSafetensors } from '../io/safetensors.ts';
import { cleanUpTokenization, Gpt2Tokenizer } from './gpt2Tokenizer.ts';

const FEATURES = '/work/shared/golden-features';
const section = JSON.parse(readFileSync(join(FEATURES, 'cases.json'), 'utf8')).cases.expansion;
const FOLDER = join(FEATURES, section.folder);
const files = { vocabPath: join(FOLDER, 'vocab.json'), mergesPath: join(FOLDER, 'merges.txt') };
const tokenizer = Gpt2Tokenizer.fromFiles(files);
const expected = openSafetensors(join(FEATURES, section.file));
const tmp = mkdtempSync(join(tmpdir(), 'gpt2-tok-'));

afterAll(() => rmSync(tmp, { recursive: true, force: true }));

describe('GPT-2 tokenizer', () => {
  it.each((section.items as { index: number; preprocessed: string }[]).map((it) => [it.index, it.preprocessed] as const))(
    'p%i: the preprocessed prompt encodes to the golden input_ids',
    (index, text) => {
      const want = Array.from(expected.tensor(`p${index}.input_ids`).data as BigInt64Array, Number);
      expect(tokenizer.encode(text)).toEqual(want);
    },
  );

  it('knows GPT-2 landmarks: vocabulary size, <|endoftext|>, ",", "Hello world", contractions, space runs', () => {
    expect([tokenizer.vocabSize, tokenizer.endOfTextId, tokenizer.tokenToId(',')]).toEqual([50257, 50256, 11]);
    expect(tokenizer.encode('Hello world')).toEqual([15496, 995]);
    // 's is split off case-sensitively; a run of spaces leaves its last space to the next word.
    expect(tokenizer.encode("It's")).toEqual([1026, 338]);
    expect(tokenizer.encode('hello  world')).toEqual([31373, 220, 995]);
    expect(tokenizer.encode('a<|endoftext|>b')).toEqual([64, 50256, 65]);
  });

  it.each([
    'a cat sitting on a chair,',
    'ünïcödé façade — naïve 🎉 日本語',
    'tabs\tand\nnewlines\r\n\n  and   spaces ',
    'zero\u200bwidth and BOM\ufeffinside',
    "quotes 'single' \"double\" they'll we've I'm",
    '12345 3.14 1e-5',
  ])('decode(encode(%j)) is the text again (no clean-up)', (text) => {
    expect(tokenizer.decode(tokenizer.encode(text), { cleanUpTokenizationSpaces: false })).toBe(text);
  });

  it('decode skips <|endoftext|> and applies HF clean-up by default', () => {
    const ids = tokenizer.encode('a , b .<|endoftext|>');
    expect(tokenizer.decode(ids)).toBe('a, b.');
    expect(tokenizer.decode(ids, { skipSpecialTokens: false, cleanUpTokenizationSpaces: false })).toBe('a , b .<|endoftext|>');
    expect(cleanUpTokenization("do n't , it 's")).toBe("don't, it's");
  });

  it('a missing vocab.json is a CheckpointError naming the file', () => {
    const missing = join(tmp, 'vocab.json');
    expect(() => Gpt2Tokenizer.fromFiles({ ...files, vocabPath: missing })).toThrow(CheckpointError);
    expect(() => Gpt2Tokenizer.fromFiles({ ...files, vocabPath: missing })).toThrow(missing);
  });

  it('a vocabulary without the byte symbols or a malformed merges.txt is refused', () => {
    const vocab = join(tmp, 'small-vocab.json');
    writeFileSync(vocab, JSON.stringify({ a: 0, b: 1, '<|endoftext|>': 2 }));
    expect(() => Gpt2Tokenizer.fromFiles({ ...files, vocabPath: vocab })).toThrow(/not a byte-level BPE vocabulary/);
    const merges = join(tmp, 'merges.txt');
    writeFileSync(merges, '#version: 0.2\nĠ t\nthree parts here\n');
    expect(() => Gpt2Tokenizer.fromFiles({ ...files, mergesPath: merges })).toThrow(/line 3 is not "first second"/);
  });
});
