import { readFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { compareArrays } from '../golden/compare.ts';
import { openSafetensors } from '../io/safetensors.ts';
import { goldenDir } from './samplers/testSupport/goldenData.ts';
import { torchRandn } from './torchRandn.ts';

interface RandnItem {
  key: string;
  seed: string;
  shape: number[];
}

const items = (
  JSON.parse(readFileSync(path.join(goldenDir, 'cases.json'), 'utf8')) as {
    cases: { torch_randn: { items: RandnItem[] } };
  }
).cases.torch_randn.items;
const file = openSafetensors(path.join(goldenDir, 'cases/torch_randn.safetensors'));
afterAll(() => file.close());

describe('torchRandn reproduces torch.randn(shape, generator=manual_seed(seed)) on the CPU', () => {
  it('covers every golden seed and shape', () => {
    expect(items).toHaveLength(36);
  });

  it.each(items)('$key within rtol 1e-6, atol 1e-6', ({ key, seed, shape }) => {
    const want = file.float32(key);
    const got = torchRandn(shape, BigInt(seed));
    const cmp = compareArrays(got, want, { rtol: 1e-6, atol: 1e-6 });
    expect(cmp.ok, `${key}: max |Δ| ${cmp.maxAbs}`).toBe(true);
    // The block path runs in float32 on torch's side; float64 libm rounded to float32 stays within 2 ulp.
    expect(cmp.maxAbs).toBeLessThanOrEqual(2.4e-7);
  });

  it('matches the scalar path (< 16 elements) bit for bit', () => {
    for (const { key, seed, shape } of items.filter((i) => i.shape.reduce((a, b) => a * b, 1) < 16)) {
      expect(Array.from(torchRandn(shape, BigInt(seed))), key).toEqual(Array.from(file.float32(key)));
    }
  });

  it('seeds the generator with the low 32 bits of the seed, as at::mt19937 does', () => {
    expect(torchRandn([17], 2n ** 32n)).toEqual(torchRandn([17], 0n));
    expect(torchRandn([17], 2n ** 63n - 1n)).toEqual(torchRandn([17], 2n ** 32n - 1n));
    expect(torchRandn([17], 1n)).not.toEqual(torchRandn([17], 0n));
  });

  it('recomputes the tail of a size that is not a multiple of 16 from fresh uniforms', () => {
    // The first full block of a 17-element tensor equals the 16-element tensor except
    // element 1..15, which the tail block (elements 1..16) overwrites; element 0 survives.
    const a = torchRandn([16], 42n);
    const b = torchRandn([17], 42n);
    expect(b[0]).toBe(a[0]);
    expect(b[1]).not.toBe(a[1]);
  });
});
