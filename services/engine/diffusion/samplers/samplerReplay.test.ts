/**
 * Sampler-only replay of every golden sampler run (golden README §2.10, §4.5b):
 * the denoiser is a stub that returns the recorded `eval{j}.denoised` on its
 * j-th call and records what it was called with; the noise source returns
 * `noise{k}` on its k-th request. Every denoiser input (x and σ), the number
 * of evaluations, the noise requests, the progress callbacks and the result
 * are compared with what Fooocus recorded.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { compareArrays } from '../../golden/compare.ts';
import { modelSamplingKind, replaySamplerRun as replay } from '../../golden/samplerReplay.ts';
import { modelSamplingFor } from '../modelSampling.ts';
import { dpmFastPlan } from './dpmFast.ts';
import { dpmSigmaRange } from './dpmSolverSteps.ts';
import { lmsCoefficient } from './lms.ts';
import { restartStepList } from './restart.ts';
import { tcdSchedule } from './tcd.ts';
import { GoldenTensors, samplerRuns } from './testSupport/goldenData.ts';

const runs = samplerRuns();

/**
 * README §3, "sampler-only replay": atol = 1e-4·max|want| on every denoiser input and
 * on x_final, for every run. dpm_adaptive gets no looser set here: its looser figures
 * cover full UNet runs, whose σ path drifts with the eps; fed the recorded denoised, its
 * step-size control retraces Fooocus' path (measured: σ within 4.3e-7, x within 2.4e-7 relative).
 */
const TOLERANCE = { x: 1e-4, final: 1e-4, sigmaRtol: 1e-6 };

const summary: { run: string; evalX: number; final: number }[] = [];

afterAll(() => {
  const lines = summary.map((s) => `${s.run.padEnd(32)} eval.x ${s.evalX.toExponential(2)}  x_final ${s.final.toExponential(2)}`);
  console.log(`sampler replay, max |Δ|/max|want|:\n${lines.join('\n')}`);
});

describe('sampler-only replay of the golden sampler runs', () => {
  for (const [name, run] of Object.entries(runs)) {
    it(`${name}: ${run.sampler} reproduces every denoiser input, noise request, callback and x_final`, async () => {
      const tensors = new GoldenTensors(run.file);
      try {
        const tol = TOLERANCE;
        const got = await replay(run, tensors);

        expect(got.xs.length).toBe(run.n_evals);
        let evalX = 0;
        for (let j = 0; j < run.n_evals; j++) {
          const want = tensors.scalar(`eval${j}.sigma`);
          expect(Math.abs(got.sigmas[j] - want), `eval${j}.sigma`).toBeLessThanOrEqual(tol.sigmaRtol * want);
          const cmp = compareArrays(got.xs[j], tensors.latent(`eval${j}.x`), { atolTimesMaxAbs: tol.x });
          expect(cmp.ok, `eval${j}.x rel ${cmp.maxRel}`).toBe(true);
          evalX = Math.max(evalX, cmp.maxRel);
        }

        expect(got.noiseCalls.length).toBe(run.noise_calls.length);
        run.noise_calls.forEach((call, k) => {
          if (call.sigma === null || call.sigma_next === null) return;
          expect(got.noiseCalls[k][0]).toBeCloseTo(call.sigma, 5);
          expect(got.noiseCalls[k][1]).toBeCloseTo(call.sigma_next, 5);
        });

        expect(got.callbacks.map((c) => [c.i, c.afterEval])).toEqual(run.callbacks.map((c) => [c.i, c.after_eval]));

        const final = compareArrays(got.result, tensors.latent('x_final'), { atolTimesMaxAbs: tol.final });
        expect(final.ok, `x_final rel ${final.maxRel}`).toBe(true);
        summary.push({ run: name, evalX, final: final.maxRel });
      } finally {
        tensors.close();
      }
    });
  }
});

describe('sampler-specific golden records', () => {
  it('lms: the numerically integrated Lagrange coefficients match scipy quad', () => {
    const run = runs.lms;
    run.lms_coeffs!.forEach((coeffs, i) => {
      coeffs.forEach((want, j) => {
        const got = lmsCoefficient(coeffs.length, run.sigmas, i, j);
        expect(Math.abs(got - want)).toBeLessThanOrEqual(1e-6 * Math.abs(want) + 1e-12);
      });
    });
  });

  it('dpm_fast: its own grid in t = −ln σ between the schedule ends, orders [3, 1] for 4 evaluations', () => {
    const run = runs.dpm_fast;
    const sigmas = Float64Array.from(run.sigmas);
    const { sigmaMin, sigmaMax } = dpmSigmaRange(sigmas);
    const plan = dpmFastPlan(-Math.log(sigmaMax), -Math.log(sigmaMin), sigmas.length - 1);
    expect(plan.orders).toEqual(run.solver_steps!.map((s) => s.order));
    run.solver_steps!.forEach((s, i) => {
      expect(plan.ts[i]).toBeCloseTo(s.t, 6);
      expect(plan.ts[i + 1]).toBeCloseTo(s.t_next, 6);
    });
  });

  it('tcd: intermediate timesteps s = floor(0.7·t(σ)) and their alphas_cumprod', () => {
    const run = runs.tcd;
    const { timestepsS, alphaProdS } = tcdSchedule(modelSamplingFor(modelSamplingKind(run.model_sampling)), Float64Array.from(run.sigmas));
    expect(Array.from(timestepsS)).toEqual(run.tcd_timesteps_s);
    expect(Array.from(alphaProdS)).toEqual(run.tcd_alpha_prod_s);
  });

  it('restart: 20 steps become karras(11) plus one restart segment karras(10) from σ≈0.1 back to σ≈2', () => {
    const run = runs.restart;
    const got = restartStepList(Float64Array.from(run.sigmas));
    expect(got.map(([a, b]) => [a, b])).toEqual(run.restart_step_list);
  });

  it('restart below 20 steps is plain Heun on the given schedule', () => {
    const sigmas = Float64Array.from(runs.heun.sigmas);
    const got = restartStepList(sigmas);
    expect(got).toEqual([...Array(sigmas.length - 1).keys()].map((i) => [sigmas[i], sigmas[i + 1]]));
  });
});
