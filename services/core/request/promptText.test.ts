import { describe, expect, it } from 'vitest';
import { cleanupPrompt, parseLoraReferences, removeEmptyStr, safeStr, splitlines, splitPromptLines } from './promptText.ts';

// Expected values were printed by the Fooocus functions (safe_str, str.splitlines,
// parse_lora_references_from_prompt, cleanup_prompt) run under CPython 3.11.

describe('safeStr', () => {
  it.each([
    ['  a    b  ,.', 'a b'],
    ['..,x y.\r\n', 'x y'],
    ['a' + ' '.repeat(40) + 'b', 'a b'],
    [',. \r\n', ''],
  ])('safe_str(%j) = %j', (input, expected) => {
    expect(safeStr(input)).toBe(expected);
  });
});

describe('splitlines', () => {
  it.each([
    ['a\nb\r\nc\rd', ['a', 'b', 'c', 'd']],
    ['x\n', ['x']],
    ['', []],
    ['\n\n', ['', '']],
    ['a\x0bb\x0cc\x1cd\x85e\u2028f', ['a', 'b', 'c', 'd', 'e', 'f']],
  ])('splitlines(%j)', (input, expected) => {
    expect(splitlines(input)).toEqual(expected);
  });
});

describe('removeEmptyStr / splitPromptLines', () => {
  it('drops empty strings and falls back to the default', () => {
    expect(removeEmptyStr(['a', '', 'b'])).toEqual(['a', 'b']);
    expect(removeEmptyStr(['', ''], 'd')).toEqual(['d']);
    expect(removeEmptyStr([''])).toEqual([]);
  });

  it('splits a prompt into a main line and extra lines, each safe_str-ed', () => {
    expect(splitPromptLines('  a cat ,\n\n  at night.  \nstudio')).toEqual({ main: 'a cat', extra: ['at night', 'studio'] });
    expect(splitPromptLines('')).toEqual({ main: '', extra: [] });
  });
});

describe('parseLoraReferences', () => {
  it('moves a tag into the LoRA list and cleans the prompt', () => {
    expect(parseLoraReferences('a cat <lora:foo:0.5>, photo', [['base.safetensors', 0.1]])).toEqual({
      loras: [['base.safetensors', 0.1], ['foo.safetensors', 0.5]],
      prompt: 'a cat, photo',
    });
  });

  it('drops "None" slots once a tag was found and parses signed / fractional weights', () => {
    expect(parseLoraReferences('<lora:foo:1> <lora:bar:-.5>,,  a  dog ,  ', [['None', 1.0], ['x.safetensors', 1.0]])).toEqual({
      loras: [['x.safetensors', 1.0], ['foo.safetensors', 1.0], ['bar.safetensors', -0.5]],
      prompt: 'a dog',
    });
  });

  it('skips LoRAs already listed and exact repeats', () => {
    expect(parseLoraReferences('x <lora:foo:1>, <lora:foo:1>, <lora:base:2>', [['base.safetensors', 0.1]])).toEqual({
      loras: [['base.safetensors', 0.1], ['foo.safetensors', 1.0]],
      prompt: 'x',
    });
  });

  it('matches known files by stem and drops unknown tags when a file list is given', () => {
    const files = ['dir/sub.safetensors', 'other.safetensors'];
    expect(parseLoraReferences('a <lora:sub:0.7>, b', [], { loraFilenames: files })).toEqual({
      loras: [['dir/sub.safetensors', 0.7]],
      prompt: 'a, b',
    });
    expect(parseLoraReferences('a <lora:missing:0.7>, b', [], { loraFilenames: files })).toEqual({ loras: [], prompt: 'a, b' });
  });

  it('cleans the prompt even without tags', () => {
    expect(parseLoraReferences('no tags,,  here  ', [])).toEqual({ loras: [], prompt: 'no tags, here' });
  });

  it('caps the list at 5', () => {
    expect(parseLoraReferences('<lora:a:1><lora:b:1><lora:c:1><lora:d:1><lora:e:1><lora:f:1>', [['u.safetensors', 1.0]])).toEqual({
      loras: [
        ['u.safetensors', 1.0],
        ['a.safetensors', 1.0],
        ['b.safetensors', 1.0],
        ['c.safetensors', 1.0],
        ['d.safetensors', 1.0],
      ],
      prompt: '',
    });
  });

  it('cleanupPrompt squeezes spaces and commas', () => {
    expect(cleanupPrompt(' a  ,, b ,  , c ')).toBe('a, b, c');
  });
});
