import { describe, expect, it } from 'vitest';
import { UnrecoverableTaskError } from '../errors.ts';
import { applyStyles } from './applyStyles.ts';
import { PythonRandom } from './pythonRandom.ts';
import { createStyleCatalog, defaultStyleCatalog } from './styleCatalog.ts';

const catalog = defaultStyleCatalog();
const tpl = (name: string) => catalog.templates.get(name)!;

const custom = createStyleCatalog([
  { name: 'Fooocus V2', special: 'expansion', prompt: '', negative_prompt: '' },
  { name: 'Random Style', special: 'random', prompt: '', negative_prompt: '' },
  { name: 'Two Lines', prompt: 'first {prompt}\nsecond line', negative_prompt: 'neg one\nneg two' },
  { name: 'Neg Only', prompt: '', negative_prompt: 'bad' },
  { name: 'Suffix Only', prompt: 'shiny, detailed', negative_prompt: '' },
  { name: 'Wrap', prompt: 'art of {prompt}', negative_prompt: 'ugly' },
]);

describe('applyStyles', () => {
  it('applies the default selection: Sharp wraps the prompt, Enhance adds negatives, V2 requests expansion', () => {
    const out = applyStyles({
      prompt: 'a cat',
      negativePrompt: '',
      styles: ['Fooocus V2', 'Fooocus Enhance', 'Fooocus Sharp'],
    });
    expect(out.positive).toEqual([tpl('Fooocus Sharp').prompt.replace('{prompt}', 'a cat')]);
    // Style negatives first; the empty user negative is removed.
    expect(out.negative).toEqual([tpl('Fooocus Enhance').negativePrompt, tpl('Fooocus Sharp').negativePrompt]);
    expect(out.positiveTopK).toBe(1);
    expect(out.negativeTopK).toBe(2);
    expect(out.styles).toEqual(['Fooocus Enhance', 'Fooocus Sharp']);
    expect(out.expansionRequested).toBe(true);
  });

  it('makes each line of a placeholder template its own workload', () => {
    const out = applyStyles({ prompt: 'a dog', negativePrompt: 'blurry', styles: ['Two Lines'] }, { catalog: custom });
    expect(out.positive).toEqual(['first a dog', 'second line']);
    expect(out.negative).toEqual(['neg one', 'neg two', 'blurry']);
  });

  it('prepends the raw prompt when no selected style has {prompt} (negative-only style)', () => {
    const out = applyStyles({ prompt: 'a dog', negativePrompt: 'blurry', styles: ['Neg Only'] }, { catalog: custom });
    expect(out.positive).toEqual(['a dog']);
    expect(out.negative).toEqual(['bad', 'blurry']);
  });

  it('prepends the raw prompt before non-placeholder style lines', () => {
    const out = applyStyles({ prompt: 'a dog', negativePrompt: '', styles: ['Suffix Only', 'Neg Only'] }, { catalog: custom });
    expect(out.positive).toEqual(['a dog', 'shiny, detailed']);
    expect(out.negative).toEqual(['bad']);
  });

  it('does not prepend when any selected style had {prompt}', () => {
    const out = applyStyles({ prompt: 'a dog', negativePrompt: '', styles: ['Suffix Only', 'Wrap'] }, { catalog: custom });
    expect(out.positive).toEqual(['shiny, detailed', 'art of a dog']);
  });

  it('appends extra prompt lines after the styled workloads and logs prompt + extras', () => {
    const out = applyStyles(
      { prompt: 'a dog', negativePrompt: 'n1', extraPositive: ['', 'at night'], extraNegative: ['n2'], styles: ['Wrap'] },
      { catalog: custom },
    );
    expect(out.positive).toEqual(['art of a dog', 'at night']);
    expect(out.negative).toEqual(['ugly', 'n1', 'n2']);
    expect(out.logPositivePrompt).toBe('a dog\n\nat night');
    expect(out.logNegativePrompt).toBe('n1\nn2');
  });

  it('uses the prompt alone when no style is selected, and keeps [""] for an empty prompt', () => {
    expect(applyStyles({ prompt: 'x', negativePrompt: 'y', styles: [] }, { catalog: custom })).toMatchObject({
      positive: ['x'],
      negative: ['y'],
    });
    expect(applyStyles({ prompt: '', negativePrompt: '', styles: ['Fooocus V2'] }, { catalog: custom })).toMatchObject({
      positive: [''],
      negative: [''],
      expansionRequested: false,
    });
  });

  it('reports expansion only when Fooocus V2 is selected and the prompt is not empty', () => {
    expect(applyStyles({ prompt: 'x', negativePrompt: '', styles: ['Fooocus V2'] }).expansionRequested).toBe(true);
    expect(applyStyles({ prompt: 'x', negativePrompt: '', styles: ['Wrap'] }, { catalog: custom }).expansionRequested).toBe(false);
  });

  describe('Random Style', () => {
    // Indices from CPython: random.Random(seed).choice(list(range(277))).
    it.each([
      [0n, 197],
      [42n, 57],
      [6289709461860950326n, 54],
      [9223372036854775807n, 162],
    ])('picks the same style as Fooocus for seed %s', (seed, index) => {
      const out = applyStyles({ prompt: 'a cat', negativePrompt: '', styles: ['Random Style'] }, { seed });
      const expected = catalog.templateNames[index];
      expect(out.styles).toEqual([expected]);
      const t = tpl(expected);
      expect(out.positive[0]).toBe(t.prompt.includes('{prompt}') ? t.prompt.split('\n')[0].replace('{prompt}', 'a cat') : 'a cat');
    });

    it('is reproducible for a seed and draws twice from one generator', () => {
      const a = applyStyles({ prompt: 'p', negativePrompt: '', styles: ['Random Style', 'Random Style'] }, { seed: '7' });
      const b = applyStyles({ prompt: 'p', negativePrompt: '', styles: ['Random Style', 'Random Style'] }, { seed: 7 });
      expect(a).toEqual(b);
      // CPython: r = Random(7); r.choice(range(277)), r.choice(range(277)) -> 165, 77
      expect(a.styles).toEqual([catalog.templateNames[165], catalog.templateNames[77]]);
    });

    it('continues the generator wildcards already used', () => {
      const rng = new PythonRandom(0n);
      expect(rng.choice(['x', 'y', 'z'])).toBe('y'); // a wildcard draw
      const out = applyStyles({ prompt: 'p', negativePrompt: '', styles: ['Random Style'] }, { rng });
      // CPython: r = Random(0); r.choice(['x','y','z']); r.choice(range(277)) -> 215
      expect(out.styles).toEqual([catalog.templateNames[215]]);
    });

    it('needs a seed or an rng', () => {
      expect(() => applyStyles({ prompt: 'p', negativePrompt: '', styles: ['Random Style'] })).toThrow(UnrecoverableTaskError);
    });
  });

  it('rejects a style missing from the catalog', () => {
    expect(() => applyStyles({ prompt: 'p', negativePrompt: '', styles: ['Nope'] })).toThrow(UnrecoverableTaskError);
  });
});
