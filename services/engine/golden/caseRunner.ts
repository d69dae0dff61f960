/**
 * The contract between the orchestrator and the per-kind case modules: a
 * runner walks its `cases.json` section and calls `check` once per case; the
 * context times the case, turns a thrown error into a failure of that case
 * alone (the next case still runs) and reports the result as soon as it is
 * known, so a long run prints as it goes.
 */
import { CaseChecks, errorResult, type CaseResult } from './caseChecks.ts';
import type { GoldenSet } from './goldenSet.ts';

export class CaseContext {
  constructor(
    readonly kind: string,
    private readonly emit: (r: CaseResult) => void,
  ) {}

  async check(name: string, body: (checks: CaseChecks) => void | Promise<void>): Promise<void> {
    const started = performance.now();
    const checks = new CaseChecks();
    let result: CaseResult;
    try {
      await body(checks);
      result = checks.result(this.kind, name, (performance.now() - started) / 1000);
    } catch (e) {
      result = errorResult(this.kind, name, e, (performance.now() - started) / 1000);
    }
    this.emit(result);
  }

  /** A case this runner cannot check: reported as SKIP, counted neither as passed nor failed. */
  skip(name: string, reason: string): void {
    this.emit({ kind: this.kind, name, status: 'skip', maxAbs: 0, maxRel: 0, detail: reason, seconds: 0 });
  }
}

export type CaseRunner = (set: GoldenSet, context: CaseContext) => Promise<void>;
