/**
 * Align Your Steps (NVIDIA, Sabour et al. 2024) for SDXL, ComfyUI
 * `AlignYourStepsScheduler`: the 11 published noise levels, log-linearly
 * interpolated (numpy `interp` of ln σ over an even grid, float64) to
 * steps + 1 values when steps ≠ 10, then float32, last value set to 0.
 *
 * Like `turbo`, Fooocus uses these only for its log line and Brownian range
 * and samples `align_your_steps` with the `normal` schedule.
 */

/** SDXL noise levels from `external_align_your_steps.py` (`NOISE_LEVELS["SDXL"]`). */
const SDXL_AYS_LEVELS = [
  14.6146412293, 6.3184485287, 3.7681790315, 2.1811480769, 1.3405244945, 0.8620721141, 0.5550693289, 0.3798540708,
  0.2332364134, 0.1114188177, 0.0291671582,
];

/** numpy.linspace(0, 1, num): i·(1/(num − 1)) with the last value exactly 1. */
function unitGrid(num: number): Float64Array {
  const out = new Float64Array(num);
  const step = 1 / (num - 1);
  for (let i = 0; i < num; i++) out[i] = i * step;
  if (num > 1) out[num - 1] = 1;
  return out;
}

/** numpy.interp for ascending xp. */
function interp(x: number, xp: Float64Array, fp: Float64Array): number {
  const last = xp.length - 1;
  if (x <= xp[0]) return fp[0];
  if (x >= xp[last]) return fp[last];
  let j = 0;
  while (xp[j + 1] <= x) j++;
  if (xp[j] === x) return fp[j];
  const slope = (fp[j + 1] - fp[j]) / (xp[j + 1] - xp[j]);
  return slope * (x - xp[j]) + fp[j];
}

function logLinearInterp(levels: readonly number[], num: number): number[] {
  const xs = unitGrid(levels.length);
  const ys = Float64Array.from([...levels].reverse(), Math.log);
  const newXs = unitGrid(num);
  const out = Array.from(newXs, (x) => Math.exp(interp(x, xs, ys)));
  return out.reverse();
}

/** Python's round(): ties go to the even integer. */
function roundHalfEven(v: number): number {
  const r = Math.round(v);
  return r - v === 0.5 && r % 2 !== 0 ? r - 1 : r;
}

/**
 * SDXL AYS sigmas for `steps`; `denoise` (default 1) keeps the last
 * round(steps·denoise) + 1 values (ComfyUI's node; Fooocus passes 1 and cuts
 * for denoise itself).
 */
export function alignYourStepsSigmas(steps: number, denoise = 1): Float64Array {
  let totalSteps = steps;
  if (denoise < 1) {
    if (denoise <= 0) return new Float64Array(0);
    totalSteps = roundHalfEven(steps * denoise);
  }
  const levels = steps + 1 === SDXL_AYS_LEVELS.length ? [...SDXL_AYS_LEVELS] : logLinearInterp(SDXL_AYS_LEVELS, steps + 1);
  const kept = levels.slice(-(totalSteps + 1));
  kept[kept.length - 1] = 0;
  return Float64Array.from(kept, Math.fround);
}
