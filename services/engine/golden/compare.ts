/**
 * Elementwise comparison with the golden set's rule
 * |got − want| ≤ atol + rtol·|want|, where a latent tolerance may be stated
 * as atol = k·max|want| (golden README §3).
 */

export interface Tolerance {
  rtol?: number;
  atol?: number;
  /** atol = atolTimesMaxAbs · max|want| (latents). */
  atolTimesMaxAbs?: number;
}

export interface Comparison {
  ok: boolean;
  maxAbs: number;
  /** max|Δ| / max|want|, the README's "rel". */
  maxRel: number;
  /** Number of elements out of tolerance. */
  bad: number;
  count: number;
}

type Numeric = ArrayLike<number>;

export function compareArrays(got: Numeric, want: Numeric, tol: Tolerance): Comparison {
  if (got.length !== want.length) {
    return { ok: false, maxAbs: Infinity, maxRel: Infinity, bad: Math.max(got.length, want.length), count: want.length };
  }
  let maxWant = 0;
  for (let i = 0; i < want.length; i++) maxWant = Math.max(maxWant, Math.abs(want[i]));
  const atol = (tol.atol ?? 0) + (tol.atolTimesMaxAbs ?? 0) * maxWant;
  const rtol = tol.rtol ?? 0;
  let maxAbs = 0;
  let bad = 0;
  for (let i = 0; i < want.length; i++) {
    const d = Math.abs(got[i] - want[i]);
    if (!(d <= atol + rtol * Math.abs(want[i]))) bad++;
    if (!(d <= maxAbs)) maxAbs = Number.isNaN(d) ? Infinity : d;
  }
  return { ok: bad === 0, maxAbs, maxRel: maxWant > 0 ? maxAbs / maxWant : maxAbs, bad, count: want.length };
}

/** Exact equality (token ids, quantised timesteps). */
export function compareExact(got: ArrayLike<number | bigint>, want: ArrayLike<number | bigint>): Comparison {
  let bad = got.length === want.length ? 0 : Math.max(got.length, want.length);
  let maxAbs = 0;
  for (let i = 0; i < Math.min(got.length, want.length); i++) {
    const d = Math.abs(Number(got[i]) - Number(want[i]));
    if (d !== 0) bad++;
    maxAbs = Math.max(maxAbs, d);
  }
  return { ok: bad === 0, maxAbs, maxRel: maxAbs, bad, count: want.length };
}

/**
 * 8-bit images: at most `maxFraction` of the values may differ, each by at
 * most `maxLsb`.
 */
export function compareU8(got: ArrayLike<number>, want: ArrayLike<number>, maxLsb: number, maxFraction: number): Comparison {
  if (got.length !== want.length) return { ok: false, maxAbs: Infinity, maxRel: Infinity, bad: want.length, count: want.length };
  let maxAbs = 0;
  let differing = 0;
  for (let i = 0; i < want.length; i++) {
    const d = Math.abs(got[i] - want[i]);
    if (d > 0) differing++;
    maxAbs = Math.max(maxAbs, d);
  }
  const ok = maxAbs <= maxLsb && differing <= maxFraction * want.length;
  return { ok, maxAbs, maxRel: differing / want.length, bad: ok ? 0 : differing, count: want.length };
}

/** Folds several comparisons of one case into one line's figures. */
export function combine(parts: Comparison[]): Comparison {
  return parts.reduce<Comparison>(
    (acc, c) => ({
      ok: acc.ok && c.ok,
      maxAbs: Math.max(acc.maxAbs, c.maxAbs),
      maxRel: Math.max(acc.maxRel, c.maxRel),
      bad: acc.bad + c.bad,
      count: acc.count + c.count,
    }),
    { ok: true, maxAbs: 0, maxRel: 0, bad: 0, count: 0 },
  );
}
