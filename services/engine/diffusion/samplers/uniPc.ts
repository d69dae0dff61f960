/**
 * UniPC multistep (Zhao et al. 2023) as ComfyUI's `sample_unipc` runs it for
 * Fooocus' `uni_pc` (B(h) = h, "bh1") and `uni_pc_bh2` (B(h) = expm1(h)):
 * data prediction, order min(3, len(sigmas) − 2) with lower orders for
 * warm-up and for the last steps, a corrector after every step but the last.
 *
 * The reference works in VP scaling with σ as its time variable:
 * α = 1/sqrt(1+σ²), σ_vp = σ·α, λ = −ln σ; it starts from x_vp = x/sqrt(1+σ_0²),
 * calls the denoiser with x_vp·sqrt(1+σ²), replaces a final σ of 0 by 0.001
 * and returns x_vp·sqrt(1 + 0.001²). Its data prediction is
 * (x_vp − σ_vp·eps)/α with eps = (x_vp·sqrt(1+σ²) − D)/σ, which is exactly D;
 * D is used directly (float64 makes the round trip moot).
 *
 * Progress fires once per step, after it (as the reference's callback), with
 * the model value just computed as `denoised` and x scaled back from VP to
 * the sampler convention at the sigma it has reached.
 *
 * Faithful quirk: with a single step (two sigmas) the order is 0 and the
 * reference never moves x; that is reproduced rather than fixed.
 */
import type { Latent, SamplerFn } from '../types.ts';
import { reportStep, throwIfAborted } from './stepProtocol.ts';

export type UniPcVariant = 'bh1' | 'bh2';

const FINAL_SIGMA = 0.001;

const vpAlpha = (sigma: number): number => 1 / Math.sqrt(1 + sigma * sigma);
const vpStd = (sigma: number): number => sigma / Math.sqrt(1 + sigma * sigma);
const lambdaOf = (sigma: number): number => -Math.log(sigma);

function vpToVe(xVp: Latent, sigma: number): Latent {
  const scale = Math.sqrt(1 + sigma * sigma);
  const out = new Float64Array(xVp.length);
  for (let k = 0; k < xVp.length; k++) out[k] = xVp[k] * scale;
  return out;
}

export function makeUniPc(variant: UniPcVariant): SamplerFn {
  return async (denoise, xInit, sigmas, opts) => {
    const timesteps = Float64Array.from(sigmas);
    if (timesteps[timesteps.length - 1] === 0) timesteps[timesteps.length - 1] = FINAL_SIGMA;
    const steps = timesteps.length - 1;
    const order = Math.min(3, timesteps.length - 2);
    if (steps < 1) return xInit;

    /** Data prediction at VP state x and sigma: the denoiser sees VE scaling. */
    const model = (xVp: Latent, sigma: number): Promise<Latent> => denoise(vpToVe(xVp, sigma), sigma);

    const s0 = 1 / Math.sqrt(1 + timesteps[0] * timesteps[0]);
    let x: Latent = new Float64Array(xInit.length);
    for (let k = 0; k < x.length; k++) x[k] = xInit[k] * s0;

    const modelPrev: Latent[] = [];
    const tPrev: number[] = [];
    for (let stepIndex = 0; stepIndex < steps; stepIndex++) {
      throwIfAborted(opts);
      let reportSigma: number;
      if (stepIndex === 0) {
        modelPrev.push(await model(x, timesteps[0]));
        tPrev.push(timesteps[0]);
        reportSigma = timesteps[0];
      } else if (stepIndex < order) {
        const t = timesteps[stepIndex];
        const r = await uniPcUpdate(x, modelPrev, tPrev, t, stepIndex, true, variant, model);
        x = r.x;
        modelPrev.push(r.modelT ?? (await model(x, t)));
        tPrev.push(t);
        reportSigma = t;
      } else {
        const lastStep = stepIndex === steps - 1 ? steps : stepIndex;
        reportSigma = timesteps[stepIndex];
        for (let step = stepIndex; step <= lastStep; step++) {
          const t = timesteps[step];
          const stepOrder = Math.min(order, steps + 1 - step);
          const useCorrector = step !== steps;
          const r = await uniPcUpdate(x, modelPrev, tPrev, t, stepOrder, useCorrector, variant, model);
          x = r.x;
          for (let i = 0; i < order - 1; i++) {
            tPrev[i] = tPrev[i + 1];
            modelPrev[i] = modelPrev[i + 1];
          }
          tPrev[tPrev.length - 1] = t;
          // The final model value is never needed (and never evaluated).
          if (step < steps) modelPrev[modelPrev.length - 1] = r.modelT ?? (await model(x, t));
          reportSigma = t;
        }
      }
      await reportStep(opts, {
        i: stepIndex,
        total: steps,
        x: vpToVe(x, reportSigma),
        denoised: modelPrev[modelPrev.length - 1],
        sigma: reportSigma,
      });
    }
    return vpToVe(x, timesteps[steps]);
  };
}

export const sampleUniPc: SamplerFn = makeUniPc('bh1');
export const sampleUniPcBh2: SamplerFn = makeUniPc('bh2');

/**
 * One UniPC step to sigma t (`multistep_uni_pc_bh_update`, predict_x0): the
 * predictor from the last `order` model values, then, if asked, the corrector
 * that also uses the model value at the predicted point.
 */
async function uniPcUpdate(
  x: Latent,
  modelPrev: Latent[],
  tPrev: number[],
  t: number,
  order: number,
  useCorrector: boolean,
  variant: UniPcVariant,
  model: (x: Latent, sigma: number) => Promise<Latent>,
): Promise<{ x: Latent; modelT: Latent | null }> {
  const last = modelPrev.length - 1;
  if (order > modelPrev.length) throw new Error(`uni_pc: order ${order} needs ${order} previous model values`);
  const tPrev0 = tPrev[last];
  const lambdaPrev0 = lambdaOf(tPrev0);
  const h = lambdaOf(t) - lambdaPrev0;
  const m0 = modelPrev[last];
  const sigmaRatio = vpStd(t) / vpStd(tPrev0);
  const alphaT = vpAlpha(t);
  const n = x.length;

  const rks: number[] = [];
  const d1s: Latent[] = [];
  for (let i = 1; i < order; i++) {
    const rk = (lambdaOf(tPrev[last - i]) - lambdaPrev0) / h;
    rks.push(rk);
    const mi = modelPrev[last - i];
    const d1 = new Float64Array(n);
    for (let k = 0; k < n; k++) d1[k] = (mi[k] - m0[k]) / rk;
    d1s.push(d1);
  }
  rks.push(1);

  const hh = -h;
  const hPhi1 = Math.expm1(hh);
  let hPhiK = hPhi1 / hh - 1;
  let factorial = 1;
  const bH = variant === 'bh1' ? hh : Math.expm1(hh);
  const R: number[][] = [];
  const b: number[] = [];
  for (let i = 1; i <= order; i++) {
    R.push(rks.map((r) => r ** (i - 1)));
    b.push((hPhiK * factorial) / bH);
    factorial *= i + 1;
    hPhiK = hPhiK / hh - 1 / factorial;
  }

  let rhosP: number[] = [];
  if (d1s.length > 0) {
    rhosP = order === 2 ? [0.5] : solveLinear(R.slice(0, -1).map((row) => row.slice(0, -1)), b.slice(0, -1));
  }
  const rhosC = useCorrector ? (order === 1 ? [0.5] : solveLinear(R, b)) : [];

  const xBase = new Float64Array(n);
  const cM = alphaT * hPhi1;
  for (let k = 0; k < n; k++) xBase[k] = sigmaRatio * x[k] - cM * m0[k];
  const cB = alphaT * bH;

  const xPred = new Float64Array(n);
  for (let k = 0; k < n; k++) {
    let res = 0;
    for (let j = 0; j < d1s.length; j++) res += rhosP[j] * d1s[j][k];
    xPred[k] = xBase[k] - cB * res;
  }
  if (!useCorrector) return { x: xPred, modelT: null };

  const modelT = await model(xPred, t);
  const rhoLast = rhosC[rhosC.length - 1];
  const xCorr = new Float64Array(n);
  for (let k = 0; k < n; k++) {
    let res = 0;
    for (let j = 0; j < d1s.length; j++) res += rhosC[j] * d1s[j][k];
    xCorr[k] = xBase[k] - cB * (res + rhoLast * (modelT[k] - m0[k]));
  }
  return { x: xCorr, modelT };
}

/** Solves A·z = y for a small dense system (Gaussian elimination, partial pivoting). */
function solveLinear(A: number[][], y: number[]): number[] {
  const n = y.length;
  const M = A.map((row, i) => [...row, y[i]]);
  for (let c = 0; c < n; c++) {
    let p = c;
    for (let r = c + 1; r < n; r++) if (Math.abs(M[r][c]) > Math.abs(M[p][c])) p = r;
    [M[c], M[p]] = [M[p], M[c]];
    for (let r = c + 1; r < n; r++) {
      const f = M[r][c] / M[c][c];
      for (let k = c; k <= n; k++) M[r][k] -= f * M[c][k];
    }
  }
  const z = new Array<number>(n).fill(0);
  for (let r = n - 1; r >= 0; r--) {
    let s = M[r][n];
    for (let k = r + 1; k < n; k++) s -= M[r][k] * z[k];
    z[r] = s / M[r][r];
  }
  return z;
}
