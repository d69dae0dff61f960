/**
 * verify-golden: run every case of a golden directory (README §4) through
 * the engine's own code and report one result per case.
 *
 * Each case kind of `cases.json` has one module; this file only maps kind
 * names to them, runs the kinds in `cases.json` order and tallies. A kind
 * the map does not know (one of the features set's kinds not built yet) is
 * reported as SKIP and counted neither as passed nor as failed, so a newer
 * set never passes by omission. Cases share one GoldenSet, hence one loaded
 * checkpoint and one graph cache for the whole run.
 */
import { formatCaseResult, skippedKind, type CaseResult } from './caseChecks.ts';
import { CaseContext, type CaseRunner } from './caseRunner.ts';
import { runControlloraCases } from './controlloraCases.ts';
import { runEmbeddingCases } from './embeddingCases.ts';
import { runExpansionCases } from './expansionCases.ts';
import { runFooocusCfgCases } from './fooocusCfgCases.ts';
import { runFreeuCases } from './freeuCases.ts';
import { runInpaintCases } from './inpaintCases.ts';
import { runIpadapterCases } from './ipadapterCases.ts';
import type { GoldenSet } from './goldenSet.ts';
import { runLoraCases } from './loraCases.ts';
import { runPreprocessorCases } from './preprocessorCases.ts';
import { runRefinerCases } from './refinerCases.ts';
import { runSamplerRunCases } from './samplerRunCases.ts';
import { runScheduleCases } from './scheduleCases.ts';
import { runSchedulerSigmaCases } from './schedulerSigmaCases.ts';
import { runTextEncoderCases } from './textEncoderCases.ts';
import { runTokenCases, runTokenizerBpeCases } from './tokenCases.ts';
import { runTorchRandnCases } from './torchRandnCases.ts';
import { runTxt2imgCases } from './txt2imgCases.ts';
import { runUnetCases } from './unetCases.ts';
import { runUpscaleCases } from './upscaleCases.ts';
import { runVaeCases } from './vaeCases.ts';
import { runVaryCases } from './varyCases.ts';

/** Case kinds this runner implements, by their `cases.json` key. */
export const CASE_RUNNERS: Readonly<Record<string, CaseRunner>> = {
  tokens: runTokenCases,
  tokenizer_bpe: runTokenizerBpeCases,
  text_encoders: runTextEncoderCases,
  embeddings: runEmbeddingCases,
  unet: runUnetCases,
  vae: runVaeCases,
  schedules: runScheduleCases,
  txt2img: runTxt2imgCases,
  torch_randn: runTorchRandnCases,
  fooocus_cfg: runFooocusCfgCases,
  sampler_runs: runSamplerRunCases,
  scheduler_sigmas: runSchedulerSigmaCases,
  refiner: runRefinerCases,
  freeu: runFreeuCases,
  expansion: runExpansionCases,
  lora: runLoraCases,
  preprocessors: runPreprocessorCases,
  upscale: runUpscaleCases,
  vary: runVaryCases,
  inpaint: runInpaintCases,
  ipadapter: runIpadapterCases,
  controllora: runControlloraCases,
};

export interface VerifyGoldenOptions {
  /** Only these case kinds (default: every kind `cases.json` lists). */
  only?: readonly string[];
  /** Called with each result as soon as it is known (the CLI prints from here). */
  onResult?: (r: CaseResult) => void;
}

export interface VerifyGoldenSummary {
  results: CaseResult[];
  passed: number;
  failed: number;
  skipped: number;
  seconds: number;
}

export async function verifyGolden(set: GoldenSet, opts: VerifyGoldenOptions = {}): Promise<VerifyGoldenSummary> {
  const started = performance.now();
  const results: CaseResult[] = [];
  const emit = (r: CaseResult) => {
    results.push(r);
    opts.onResult?.(r);
  };
  const kinds = opts.only ? set.kinds().filter((k) => opts.only!.includes(k)) : set.kinds();
  for (const kind of kinds) {
    const runner = Object.hasOwn(CASE_RUNNERS, kind) ? CASE_RUNNERS[kind] : undefined;
    if (!runner) {
      emit(skippedKind(kind));
      continue;
    }
    const context = new CaseContext(kind, emit);
    try {
      await runner(set, context);
    } catch (e) {
      // A section the runner cannot even walk (missing file, malformed record) fails as one case.
      await context.check('(section)', () => {
        throw e;
      });
    }
  }
  return {
    results,
    passed: results.filter((r) => r.status === 'pass').length,
    failed: results.filter((r) => r.status === 'fail').length,
    skipped: results.filter((r) => r.status === 'skip').length,
    seconds: (performance.now() - started) / 1000,
  };
}

/** The report's last line, exactly `N passed, M failed`. */
export function summaryLine(s: Pick<VerifyGoldenSummary, 'passed' | 'failed'>): string {
  return `${s.passed} passed, ${s.failed} failed`;
}

export { formatCaseResult };
