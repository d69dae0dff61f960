/**
 * Fooocus's per-step IP-Adapter arithmetic (golden-features §9 "Attention
 * patch"): the channel penalty, the mean-preserving V offset, the stop rule
 * on 1 − t/999, cond/uncond rows and several images sharing one softmax.
 */
import { describe, expect, it } from 'vitest';
import { ipAdapterUnetKv, ipProgress, isIpActive, weightIpKv, type IpAdapterImage, type IpProjections } from './ipAdapterAttention.ts';

/** One layer of C channels, N tokens, values from `f(token, channel)`. */
function projections(n: number, c: number, f: (i: number, j: number) => number): IpProjections {
  const data = (g: (i: number, j: number) => number) => Float32Array.from({ length: n * c }, (_, x) => g(Math.floor(x / c), x % c));
  return { k: [{ data: data(f), dims: [1, n, c] }], v: [{ data: data((i, j) => f(i, j) + j / 100), dims: [1, n, c] }] };
}

describe('weightIpKv', () => {
  it('scales k by weight·C/1280 and moves only the token mean of v', () => {
    const p = projections(4, 640, (i, j) => i + j / 1000);
    const w = 0.6 * (640 / 1280);
    const out = weightIpKv(p.k[0], p.v[0], 0.6);
    expect(out.k[5 * 1 + 640 * 2]).toBeCloseTo(p.k[0].data[5 + 640 * 2] * w, 6);
    for (const j of [0, 7, 639]) {
      const col = [0, 1, 2, 3].map((i) => p.v[0].data[i * 640 + j]);
      const mean = col.reduce((a, b) => a + b) / 4;
      for (let i = 0; i < 4; i++) expect(out.v[i * 640 + j]).toBeCloseTo(col[i] - mean + mean * w, 4);
    }
  });

  it('leaves v unchanged at weight·C/1280 = 1 (C = 1280, weight 1)', () => {
    const p = projections(3, 1280, (i, j) => Math.sin(i * 7 + j));
    const out = weightIpKv(p.k[0], p.v[0], 1);
    for (let x = 0; x < out.v.length; x += 97) expect(out.v[x]).toBeCloseTo(p.v[0].data[x], 5);
    expect(Array.from(out.k.subarray(0, 50))).toEqual(Array.from(p.k[0].data.subarray(0, 50)));
  });
});

describe('ipAdapterUnetKv', () => {
  const cond = projections(2, 4, (i, j) => 1 + i + j);
  const uncond = projections(2, 4, (i, j) => -1 - i - j);
  const image = (weight: number, stop: number): IpAdapterImage => ({ cond, uncond, weight, stop });

  it('is active while 1 − t/999 < stop, in float32 as Fooocus computes it', () => {
    expect(ipProgress(800)).toBeCloseTo(0.1991992, 6);
    expect(isIpActive({ stop: 0.5 }, 800)).toBe(true);
    expect(isIpActive({ stop: 0.5 }, 200)).toBe(false);
    expect(isIpActive({ stop: 1 }, 0)).toBe(false);
    expect(isIpActive({ stop: 1 }, 1)).toBe(true);
    expect(ipAdapterUnetKv([image(0.6, 0.5)], 200, ['cond', 'uncond'])).toBeNull();
  });

  it('gives cond rows the image tokens and uncond rows the negative ones', () => {
    const kv = ipAdapterUnetKv([image(1, 1)], 500, ['cond', 'uncond'])!;
    const w = 4 / 1280;
    expect(kv.k[0].dims).toEqual([2, 2, 4]);
    expect(kv.k[0].data[0]).toBeCloseTo(1 * w, 7);
    expect(kv.k[0].data[8]).toBeCloseTo(-1 * w, 7);
    expect(Array.from(kv.v[0].data.subarray(0, 8))).toEqual(Array.from(weightIpKv(cond.k[0], cond.v[0], 1).v));
    expect(Array.from(kv.v[0].data.subarray(8))).toEqual(Array.from(weightIpKv(uncond.k[0], uncond.v[0], 1).v));
  });

  it('concatenates the active images along the token axis and drops finished ones', () => {
    const kv = ipAdapterUnetKv([image(0.5, 1), image(2, 0.5), image(1, 1)], 800, ['uncond'])!;
    expect(kv.k[0].dims).toEqual([1, 6, 4]);
    const kv2 = ipAdapterUnetKv([image(0.5, 1), image(2, 0.5), image(1, 1)], 100, ['uncond'])!;
    expect(kv2.k[0].dims).toEqual([1, 4, 4]);
    expect(Array.from(kv2.k[0].data.subarray(8))).toEqual(Array.from(weightIpKv(uncond.k[0], uncond.v[0], 1).k));
  });
});
