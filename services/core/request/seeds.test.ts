import { describe, expect, it } from 'vitest';
import { cryptoSeedRandom, imageSeeds, resolveSeed } from './seeds.ts';

const MAX = 2n ** 63n - 1n;

describe('resolveSeed (FooocusAPI refresh_seed)', () => {
  const random = () => 99n;
  it.each([
    [0, 0n],
    [42, 42n],
    ['42', 42n],
    [' 7 ', 7n],
    ['9223372036854775807', MAX],
    [9223372036854775807n, MAX],
  ] as const)('keeps %s', (input, expected) => {
    expect(resolveSeed(input, random)).toBe(expected);
  });

  it.each([[-1], [null], [undefined], [-2], ['9223372036854775808'], [2 ** 64], [1.5], ['x']] as const)('draws a random seed for %s', (input) => {
    expect(resolveSeed(input as never, random)).toBe(99n);
  });

  it('refuses a seed source outside 0..2^63-1', () => {
    expect(() => resolveSeed(-1, () => 2n ** 63n)).toThrow(RangeError);
  });

  it('draws 63-bit seeds from the CSPRNG', () => {
    const seeds = Array.from({ length: 50 }, cryptoSeedRandom);
    expect(seeds.every((s) => s >= 0n && s <= MAX)).toBe(true);
    expect(new Set(seeds).size).toBe(50);
  });
});

describe('imageSeeds', () => {
  it('increments per image and wraps modulo 2^63', () => {
    expect(imageSeeds(MAX - 1n, 4, false)).toEqual([MAX - 1n, MAX, 0n, 1n]);
  });
  it('repeats the seed when increment is disabled', () => {
    expect(imageSeeds(5n, 3, true)).toEqual([5n, 5n, 5n]);
  });
});
