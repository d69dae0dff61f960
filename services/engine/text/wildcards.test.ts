import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { PythonRandom } from '../../shared/pythonRandom.ts';
import { applyArrays } from './arrays.ts';
import vectors from './fooocusPromptVectors.json' with { type: 'json' };
import { resolveImagePrompts } from './resolveImagePrompts.ts';
import { loadWildcardDirectory, pythonSplitlines, wildcardLoaderFromMap } from './wildcardDirectory.ts';
import { applyWildcards } from './wildcards.ts';

// fooocusPromptVectors.json holds CPython outputs of Fooocus' own apply_wildcards/apply_arrays
// (see its `_generated_by`), with the same word lists as `vectors.wildcards`.
const lists = Object.fromEntries(Object.entries(vectors.wildcards).map(([k, v]) => [k, pythonSplitlines(v)]));
const load = wildcardLoaderFromMap(lists);

describe('applyWildcards (Fooocus apply_wildcards)', () => {
  it.each(vectors.random)('random mode matches CPython for $text, seed $seed (and leaves the rng where Python does)', (v) => {
    const rng = new PythonRandom(BigInt(v.seed));
    expect(applyWildcards(v.text, { rng, imageIndex: 0, readInOrder: false, load })).toBe(v.result);
    expect(Number(rng.getrandbits(32))).toBe(v.next);
  });

  it.each(vectors.ordered)('in-order mode takes line i % n: $text, image $index', (v) => {
    const rng = new PythonRandom(0n);
    expect(applyWildcards(v.text, { rng, imageIndex: v.index, readInOrder: true, load })).toBe(v.result);
  });

  it('a missing list turns every occurrence into the bare name and draws nothing', () => {
    const rng = new PythonRandom(5n);
    const untouched = new PythonRandom(5n);
    expect(applyWildcards('__nope__ x __nope__', { rng, imageIndex: 0, readInOrder: false, load })).toBe('nope x nope');
    expect(rng.getrandbits(32)).toBe(untouched.getrandbits(32));
  });

  it('stops a self-referencing list after 64 passes, leaving the placeholder', () => {
    const out = applyWildcards('__loop__', { rng: new PythonRandom(1n), imageIndex: 0, readInOrder: false, load });
    expect(out.match(/x /g)).toHaveLength(64);
    expect(out.endsWith('__loop__')).toBe(true);
  });

  it('keeps $ patterns in words literal', () => {
    const dollar = wildcardLoaderFromMap({ money: ["$& $1 $$ $'"] });
    expect(applyWildcards('pay __money__!', { rng: new PythonRandom(0n), imageIndex: 0, readInOrder: false, load: dollar })).toBe("pay $& $1 $$ $'!");
  });
});

describe('applyArrays (Fooocus apply_arrays)', () => {
  it.each(vectors.arrays)('matches CPython for $text, image $index', (v) => {
    expect(applyArrays(v.text, v.index)).toBe(v.result);
  });
});

describe('resolveImagePrompts (Fooocus process_prompt order)', () => {
  it.each(vectors.sequence)('draws prompt, negative, extra lines, then Random Style from one rng like CPython (seed $seed)', (v) => {
    const rng = new PythonRandom(BigInt(v.seed));
    const out = resolveImagePrompts(
      { prompt: '__color__ [[x,y]] __animal__', negativePrompt: '__color__', extraPositive: ['__animal__', '__size__'], extraNegative: ['__color__'] },
      { rng, imageIndex: 3, readInOrder: false, load },
    );
    expect(out).toEqual({ prompt: v.prompt, negativePrompt: v.negative, extraPositive: v.extra, extraNegative: v.extraNegative });
    expect(rng.choice(Array.from({ length: 277 }, (_, i) => i))).toBe(v.styleIndex);
  });
});

describe('loadWildcardDirectory', () => {
  const dir = mkdtempSync(join(tmpdir(), 'wildcards-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('reads *.txt lists recursively with Python splitlines; a sub-folder file wins over a top-level one', async () => {
    writeFileSync(join(dir, 'color.txt'), 'red\r\ngreen\n\nblue\u2028teal\n');
    writeFileSync(join(dir, 'animal.TXT'), 'cat\ndog');
    writeFileSync(join(dir, 'notes.md'), 'ignored');
    mkdirSync(join(dir, 'b'));
    mkdirSync(join(dir, 'a'));
    writeFileSync(join(dir, 'b', 'animal.txt'), 'from b');
    writeFileSync(join(dir, 'a', 'animal.txt'), 'from a');
    const loadDir = await loadWildcardDirectory(dir);
    expect(loadDir('color')).toEqual(['red', 'green', '', 'blue', 'teal']);
    expect(loadDir('animal')).toEqual(['from a']);
    expect(loadDir('notes')).toBeNull();
    expect(await loadWildcardDirectory(join(dir, 'missing')).then((l) => l('color'))).toBeNull();
    const rng = new PythonRandom(3n);
    expect(applyWildcards('__color__', { rng, imageIndex: 2, readInOrder: true, load: loadDir })).toBe('blue');
  });
});
