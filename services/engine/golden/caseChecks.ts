/**
 * One golden case's verdict: every comparison it made (golden README §3,
 * elementwise |got − want| ≤ atol + rtol·|want|), folded into the figures a
 * report line shows. A case passes only when every part is in tolerance; a
 * failing line names the parts that were not, so the line alone says where
 * to look.
 *
 * Figures: `maxAbs` / `maxRel` are the worst over the float and exact parts
 * (rel = max|Δ| / max|want|, the README's "rel"); 8-bit images are reported
 * apart (worst LSB and the fraction of values that differ), because their
 * "rel" is a fraction of pixels, not a relative error.
 */
import { compareArrays, compareU8, type Comparison, type Tolerance } from './compare.ts';

export type CaseStatus = 'pass' | 'fail' | 'skip';

export interface CaseResult {
  /** Case kind: the `cases.json → cases` key (tokens, unet, sampler_runs, …). */
  kind: string;
  /** The case within its kind (`p0`, `case1`, `euler replay`, …); '' for a skipped kind. */
  name: string;
  status: CaseStatus;
  maxAbs: number;
  maxRel: number;
  /** Worst 8-bit difference and fraction of differing values, when the case compared an image_u8. */
  u8?: { maxLsb: number; fraction: number };
  /** Parts out of tolerance (or the error thrown), accepted deviations, the reason for a skip. */
  detail?: string;
  seconds: number;
}

/** `|diff| ≤ maxLsb` on at most `maxFraction` of the values (golden README §3, PNG / image_u8). */
export interface U8Rule {
  maxLsb: number;
  maxFraction: number;
}

interface Part {
  label: string;
  cmp: Comparison;
  kind: 'float' | 'u8';
  /** Extra words for a failing part (e.g. a count mismatch). */
  message?: string;
}

/** A failing line names at most this many parts (a diverged run fails every later evaluation). */
const MAX_FAILING_PARTS_SHOWN = 4;

/** 2.1e-06: one decimal, two-digit exponent (as numpy prints), so the columns line up. */
const fmt = (v: number): string => (Number.isFinite(v) ? v.toExponential(1).replace(/e([+-])(\d)$/, 'e$10$2') : String(v));

export class CaseChecks {
  private readonly parts: Part[] = [];
  private readonly notes: string[] = [];

  /** Float tensors under a tolerance. */
  float(label: string, got: ArrayLike<number>, want: ArrayLike<number>, tol: Tolerance): Comparison {
    const cmp = compareArrays(got, want, tol);
    this.parts.push({ label, cmp, kind: 'float', message: lengthMessage(got, want) });
    return cmp;
  }

  /** Exact equality (token ids, quantised timesteps); bigint ids are compared as numbers. */
  exact(label: string, got: ArrayLike<number | bigint>, want: ArrayLike<number | bigint>): Comparison {
    const g = Array.from(got, Number);
    const w = Array.from(want, Number);
    const cmp = compareArrays(g, w, { atol: 0, rtol: 0 });
    this.parts.push({ label, cmp, kind: 'float', message: lengthMessage(g, w) });
    return cmp;
  }

  /** 8-bit image values under a U8Rule. */
  u8(label: string, got: ArrayLike<number>, want: ArrayLike<number>, rule: U8Rule): Comparison {
    const cmp = compareU8(got, want, rule.maxLsb, rule.maxFraction);
    const message = cmp.ok ? undefined : `${cmp.maxAbs} LSB on ${(cmp.maxRel * 100).toFixed(3)}%, allowed ${rule.maxLsb} on ${(rule.maxFraction * 100).toFixed(3)}%`;
    this.parts.push({ label, cmp, kind: 'u8', message: lengthMessage(got, want) ?? message });
    return cmp;
  }

  /** A condition that is not a tensor comparison (counts, names); fails with `message` when false. */
  require(label: string, ok: boolean, message: string): boolean {
    const cmp: Comparison = { ok, maxAbs: 0, maxRel: 0, bad: ok ? 0 : 1, count: 1 };
    this.parts.push({ label, cmp, kind: 'float', message: ok ? undefined : message });
    return ok;
  }

  /** A deviation the README accepts (a flagged timestep tie resolved the other way), shown on the line. */
  note(text: string): void {
    this.notes.push(text);
  }

  get ok(): boolean {
    return this.parts.every((p) => p.cmp.ok);
  }

  result(kind: string, name: string, seconds: number): CaseResult {
    let maxAbs = 0;
    let maxRel = 0;
    let u8: CaseResult['u8'];
    for (const p of this.parts) {
      if (p.kind === 'u8') {
        u8 = { maxLsb: Math.max(u8?.maxLsb ?? 0, p.cmp.maxAbs), fraction: Math.max(u8?.fraction ?? 0, p.cmp.maxRel) };
      } else {
        if (!(p.cmp.maxAbs <= maxAbs)) maxAbs = p.cmp.maxAbs;
        if (!(p.cmp.maxRel <= maxRel)) maxRel = p.cmp.maxRel;
      }
    }
    const failing = this.parts
      .filter((p) => !p.cmp.ok)
      .map((p) => `${p.label}: ${p.message ?? `max_abs ${fmt(p.cmp.maxAbs)} max_rel ${fmt(p.cmp.maxRel)}, ${p.cmp.bad}/${p.cmp.count} out of tolerance`}`);
    const shown = failing.length > MAX_FAILING_PARTS_SHOWN ? [...failing.slice(0, MAX_FAILING_PARTS_SHOWN), `${failing.length - MAX_FAILING_PARTS_SHOWN} more parts out of tolerance`] : failing;
    const detail = [...shown, ...this.notes].join('; ') || undefined;
    return { kind, name, status: this.ok ? 'pass' : 'fail', maxAbs, maxRel, u8, detail, seconds };
  }
}

function lengthMessage(got: ArrayLike<unknown>, want: ArrayLike<unknown>): string | undefined {
  return got.length === want.length ? undefined : `${got.length} values, expected ${want.length}`;
}

/** A case that threw: a failure carrying the error message. */
export function errorResult(kind: string, name: string, error: unknown, seconds: number): CaseResult {
  const message = error instanceof Error ? error.message : String(error);
  return { kind, name, status: 'fail', maxAbs: Infinity, maxRel: Infinity, detail: `error: ${message}`, seconds };
}

/** A case kind this runner does not implement: reported, never counted as passed. */
export function skippedKind(kind: string): CaseResult {
  return { kind, name: '', status: 'skip', maxAbs: 0, maxRel: 0, detail: 'not supported', seconds: 0 };
}

/** One report line: `PASS unet case1  max_abs 2.1e-06  max_rel 4.0e-07`. */
export function formatCaseResult(r: CaseResult): string {
  if (r.status === 'skip') return `SKIP ${[r.kind, r.name].filter(Boolean).join(' ')} ${r.detail ?? 'not supported'}`;
  const figures = `max_abs ${fmt(r.maxAbs)}  max_rel ${fmt(r.maxRel)}`;
  const u8 = r.u8 ? `  u8 ${r.u8.maxLsb} LSB on ${(r.u8.fraction * 100).toFixed(3)}%` : '';
  const detail = r.detail ? `  (${r.detail})` : '';
  return `${r.status === 'pass' ? 'PASS' : 'FAIL'} ${r.kind} ${r.name}  ${figures}${u8}${detail}`;
}
