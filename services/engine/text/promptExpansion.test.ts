/**
 * Fooocus V2 expansion: the pure rules (safe_str, budget, seed, processor,
 * top-k, draw), the folder check that tells a user which file is missing,
 * and end-to-end expansion on the golden-features tiny model (greedy text
 * equals the golden text; sampled text is deterministic per seed and only
 * uses allowed words).
 */
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CheckpointError } from '../io/engineErrors.ts';
import { openSafetensors } from '../io/safetensors.ts';
import { writeSafetensorsFile } from '../io/safetensorsWriter.ts';
import { loadTorchStateDict } from '../io/torchPickle.ts';
import {
  checkExpansionFolder, drawFrom, EXPANSION_COMMA_ID, EXPANSION_NEG_INF, expansionBudget, ExpansionFolderError, expansionSeed,
  loadExpansion, processExpansionScores, PromptExpansion, safeStr, seededUniform, topKDistribution,
} from './promptExpansion.ts';

const FEATURES = '/work/shared/golden-features';
const section = JSON.parse(readFileSync(join(FEATURES, 'cases.json'), 'utf8')).cases.expansion;
const FOLDER = join(FEATURES, section.folder);
const TEXT_FILES = ['config.json', 'vocab.json', 'merges.txt', 'positive.txt'];

const tmp = mkdtempSync(join(tmpdir(), 'expansion-'));
const session = { providers: ['cpu'] as ['cpu'] };
let expansion: PromptExpansion;

beforeAll(async () => {
  expansion = await loadExpansion(FOLDER, { cacheDir: join(tmp, 'cache'), session });
});

afterAll(async () => {
  await expansion?.close();
  rmSync(tmp, { recursive: true, force: true });
});

describe('expansion rules', () => {
  it.each((section.safe_str as { input: string; output: string }[]).map((e) => [e.input, e.output] as const))('safeStr(%j) = %j', (input, output) => {
    expect(safeStr(input)).toBe(output);
  });

  it('budget fills the prompt up to the next 75-token chunk', () => {
    expect([1, 7, 74, 75, 76, 150].map(expansionBudget)).toEqual([74, 68, 1, 0, 74, 0]);
    for (const item of section.items) expect(expansionBudget(item.n_tokens)).toBe(item.max_new_tokens);
  });

  it('seed % 2^32 with Python semantics (non-negative)', () => {
    expect([expansionSeed(5), expansionSeed(2 ** 32 + 5), expansionSeed(-1), expansionSeed(2n ** 63n - 1n)]).toEqual([5, 5, 4294967295, 4294967295]);
  });

  it('processor: seen ids → −8192 added, "," always 0, other ids keep their bias', () => {
    const bias = new Float32Array(20).fill(EXPANSION_NEG_INF);
    bias[3] = 0;
    bias[4] = 0;
    const scores = new Float32Array(20).fill(1);
    const out = processExpansionScores(scores, bias, [4, EXPANSION_COMMA_ID, 7]);
    expect([out[3], out[4], out[EXPANSION_COMMA_ID], out[7], out[0]]).toEqual([1, 1 + EXPANSION_NEG_INF, 1, 1 + EXPANSION_NEG_INF, 1 + EXPANSION_NEG_INF]);
  });

  it('top-k keeps every score tied with the k-th (as HF), orders by score, and normalises', () => {
    const scores = Float32Array.from([0, 5, 3, 3, 3, -1, 4]);
    const d = topKDistribution(scores, 3);
    expect(d.ids).toEqual([1, 6, 2, 3, 4]);
    expect(d.probs.reduce((a, b) => a + b, 0)).toBeCloseTo(1, 12);
    expect(d.probs[0] / d.probs[1]).toBeCloseTo(Math.E, 10);
  });

  it('a draw follows the cumulative distribution', () => {
    const d = { ids: [7, 8, 9], probs: Float64Array.from([0.5, 0.3, 0.2]) };
    expect([0, 0.49, 0.5, 0.79, 0.8, 0.999999].map((u) => drawFrom(d, u))).toEqual([7, 7, 8, 8, 9, 9]);
  });

  it('the seeded uniform source is deterministic, in [0,1) and roughly uniform', () => {
    const a = seededUniform(42);
    const b = seededUniform(42);
    const xs = Array.from({ length: 20000 }, () => a());
    expect(xs.slice(0, 5)).toEqual(Array.from({ length: 5 }, () => b()));
    expect(xs.every((x) => x >= 0 && x < 1)).toBe(true);
    const mean = xs.reduce((s, x) => s + x, 0) / xs.length;
    expect(Math.abs(mean - 0.5)).toBeLessThan(0.01);
    expect(seededUniform(43)()).not.toBe(seededUniform(42)());
  });
});

describe('expansion folder', () => {
  it('an empty folder → ExpansionFolderError (a CheckpointError, not_found) naming the folder and every missing file', () => {
    const empty = join(tmp, 'empty');
    mkdirSync(empty);
    let e: ExpansionFolderError | undefined;
    try {
      checkExpansionFolder(empty);
    } catch (err) {
      e = err as ExpansionFolderError;
    }
    expect(e).toBeInstanceOf(ExpansionFolderError);
    expect(e).toBeInstanceOf(CheckpointError);
    expect([e!.reason, e!.file, e!.folder]).toEqual(['not_found', empty, empty]);
    expect(e!.missing).toEqual(['config.json', 'pytorch_model.bin (or model.safetensors)', 'vocab.json', 'merges.txt', 'positive.txt']);
    expect(e!.message).toContain(empty);
    expect(e!.message).toContain('positive.txt');
  });

  it('loadExpansion rejects with the same error when only positive.txt is missing', async () => {
    const partial = join(tmp, 'partial');
    mkdirSync(partial);
    for (const f of ['config.json', 'vocab.json', 'merges.txt', 'pytorch_model.bin']) copyFileSync(join(FOLDER, f), join(partial, f));
    await expect(loadExpansion(partial, { cacheDir: join(tmp, 'cache'), session })).rejects.toMatchObject({ name: 'ExpansionFolderError', missing: ['positive.txt'] });
  });

  it('a model.safetensors with GPT2Model names (no transformer. prefix) works like the pickle', async () => {
    const folder = join(tmp, 'safetensors-folder');
    mkdirSync(folder);
    for (const f of TEXT_FILES) copyFileSync(join(FOLDER, f), join(folder, f));
    const sd = loadTorchStateDict(join(FOLDER, 'pytorch_model.bin'));
    writeSafetensorsFile(
      join(folder, 'model.safetensors'),
      [...sd].filter(([k]) => k !== 'lm_head.weight').map(([k, t]) => ({ name: k.replace(/^transformer\./, ''), dtype: t.dtype, shape: [...t.shape], bytes: () => t.data })),
    );
    expect(openSafetensors(join(folder, 'model.safetensors')).has('wte.weight')).toBe(true);
    const other = await loadExpansion(folder, { cacheDir: join(tmp, 'cache-st'), session });
    try {
      const item = section.items[1];
      expect(await other.expand(item.prompt, 0, { pick: 'greedy' })).toBe(item.greedy_text);
    } finally {
      await other.close();
    }
  });
});

describe('expansion on the golden tiny model', () => {
  it('has the golden vocabulary restriction', () => {
    const want = Array.from(openSafetensors(join(FEATURES, section.file)).tensor('positive_token_ids').data as BigInt64Array, Number);
    expect(expansion.vocabulary.positiveIds).toEqual(want);
    expect(want.length).toBe(section.positive_token_count);
  });

  it.each((section.items as { index: number; prompt: string; greedy_text: string }[]).map((it) => [it.index, it] as const))('p%i: greedy expansion (argmax, KV cache) is the golden greedy_text', async (_, item) => {
    expect(await expansion.expand(item.prompt, 0, { pick: 'greedy' })).toBe(item.greedy_text);
  });

  it('sampled expansion: fixed per seed, prompt first, then only allowed words and commas, exactly the budget of tokens', async () => {
    const item = section.items[0];
    const a = await expansion.expand(item.prompt, 1234);
    expect(await expansion.expand(item.prompt, 1234)).toBe(a);
    expect(await expansion.expand(item.prompt, 1234 + 2 ** 32)).toBe(a);
    const others = await Promise.all([1, 2, 3].map((s) => expansion.expand(item.prompt, s)));
    expect(others.some((o) => o !== a)).toBe(true);
    expect(a.startsWith(item.preprocessed)).toBe(true);
    const allowed = new Set(expansion.vocabulary.positiveIds.map((id) => expansion.tokenizer.idToToken(id)!.slice(1)));
    const words = a.slice(item.preprocessed.length).split(/[ ,]+/).filter(Boolean);
    expect(words.length).toBeGreaterThan(0);
    expect(words.every((w) => allowed.has(w))).toBe(true);
    const ids = expansion.tokenizer.encode(item.preprocessed);
    const generated = await expansion.generate(ids, item.max_new_tokens, (d) => drawFrom(d, 0.5));
    expect(generated.ids.length).toBe(item.max_new_tokens);
  });

  it('"" stays ""; a prompt that already fills 75 tokens comes back as safe_str(prompt)', async () => {
    expect(await expansion.expand('', 1)).toBe('');
    const full = `a${' a'.repeat(73)}  .`;
    expect(expansion.tokenizer.encode(`${safeStr(full)},`).length).toBe(75);
    expect(await expansion.expand(full, 1)).toBe(safeStr(full));
  });

  it('honours an aborted signal between tokens', async () => {
    const controller = new AbortController();
    controller.abort();
    await expect(expansion.expand(section.items[0].prompt, 1, { signal: controller.signal })).rejects.toThrow();
  });
});
