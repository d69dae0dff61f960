import { describe, expect, it } from 'vitest';
import { parsePromptWeights } from './promptWeights.ts';

// Expected values are what ComfyUI/Fooocus `token_weights(escape_important(s), 1.0)` returns
// (segments unescaped), including Python's float64 products such as 1.1 * 1.1.
describe('parsePromptWeights', () => {
  it('gives plain text weight 1', () => {
    expect(parsePromptWeights('a cat')).toEqual([{ text: 'a cat', weight: 1 }]);
  });

  it('returns nothing for an empty prompt', () => {
    expect(parsePromptWeights('')).toEqual([]);
  });

  it('multiplies by 1.1 per level of parentheses', () => {
    expect(parsePromptWeights('(a) ((b)) (((c)))')).toEqual([
      { text: 'a', weight: 1.1 },
      { text: ' ', weight: 1 },
      { text: 'b', weight: 1.1 * 1.1 },
      { text: ' ', weight: 1 },
      { text: 'c', weight: 1.1 * 1.1 * 1.1 },
    ]);
    expect(parsePromptWeights('((b))')[0].weight).toBe(1.2100000000000002);
  });

  it('sets an explicit weight instead of multiplying', () => {
    expect(parsePromptWeights('(a:1.5)')).toEqual([{ text: 'a', weight: 1.5 }]);
    expect(parsePromptWeights('(a b:0.8) c')).toEqual([
      { text: 'a b', weight: 0.8 },
      { text: ' c', weight: 1 },
    ]);
  });

  it('treats an explicit weight inside emphasis as a reset, not a product', () => {
    expect(parsePromptWeights('(((a:0.5)) b)')).toEqual([
      { text: 'a', weight: 0.5 },
      { text: ' b', weight: 1.1 },
    ]);
  });

  it('reads the weight after the last colon only', () => {
    expect(parsePromptWeights('(a:b:2)')).toEqual([{ text: 'a:b', weight: 2 }]);
  });

  it('keeps a colon that is not followed by a number as text, with the ×1.1', () => {
    expect(parsePromptWeights('(time:night)')).toEqual([{ text: 'time:night', weight: 1.1 }]);
    // A colon at the very start never introduces a weight.
    expect(parsePromptWeights('(:1.5)')).toEqual([{ text: ':1.5', weight: 1.1 }]);
  });

  it("accepts what Python's float() accepts", () => {
    expect(parsePromptWeights('(a: 1.25 )')[0]).toEqual({ text: 'a', weight: 1.25 });
    expect(parsePromptWeights('(a:.5)')[0].weight).toBe(0.5);
    expect(parsePromptWeights('(a:2.)')[0].weight).toBe(2);
    expect(parsePromptWeights('(a:1e-1)')[0].weight).toBe(0.1);
    expect(parsePromptWeights('(a:1_0)')[0].weight).toBe(10);
    expect(parsePromptWeights('(a:\uff11.\uff15)')[0].weight).toBe(1.5); // full-width digits
    expect(parsePromptWeights('(a:1__0)')).toEqual([{ text: 'a:1__0', weight: 1.1 }]);
    expect(parsePromptWeights('(a:1.5x)')).toEqual([{ text: 'a:1.5x', weight: 1.1 }]);
  });

  it('treats escaped parentheses as literal text', () => {
    expect(parsePromptWeights('\\(a\\) (b)')).toEqual([
      { text: '(a) ', weight: 1 },
      { text: 'b', weight: 1.1 },
    ]);
    expect(parsePromptWeights('(smile \\(happy\\):1.2)')).toEqual([{ text: 'smile (happy)', weight: 1.2 }]);
  });

  it('leaves square brackets alone: Fooocus has no [de-emphasis]', () => {
    expect(parsePromptWeights('[a] [[b]]')).toEqual([{ text: '[a] [[b]]', weight: 1 }]);
  });

  it('keeps unbalanced parentheses as the reference scanner does', () => {
    // An unclosed group never becomes a group: its text keeps the "(" and weight 1.
    expect(parsePromptWeights('a (b')).toEqual([
      { text: 'a ', weight: 1 },
      { text: '(b', weight: 1 },
    ]);
    // A stray ")" drives the depth negative; the next "(" only brings it back to zero.
    expect(parsePromptWeights('a) (b)')).toEqual([{ text: 'a) (b)', weight: 1 }]);
  });
});
