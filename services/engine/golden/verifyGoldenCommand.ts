/**
 * `verify-golden <dir>`: the CLI face of verifyGolden. Prints one line per
 * case as it finishes (stdout), then exactly `N passed, M failed`; the exit
 * status is 1 when any case failed, 2 on a usage error. Timing goes to
 * stderr so stdout stays the report. A directory that is not a golden set is
 * a usage error (2), not a failed case.
 */
import { resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { GoldenSet } from './goldenSet.ts';
import { formatCaseResult, summaryLine, verifyGolden } from './verifyGolden.ts';

export const VERIFY_GOLDEN_USAGE = `usage: verify-golden <dir> [options]
  <dir>                  a directory in the golden format (cases.json at its root)
  --only KIND[,KIND]     run only these case kinds (default: every kind cases.json lists)
  --cache-dir DIR        keep built graphs here between runs (default: a temp dir, removed)
  --threads N            onnxruntime intra-op threads (default 0: all cores)`;

export async function runVerifyGolden(argv: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args: argv,
    options: {
      only: { type: 'string' },
      'cache-dir': { type: 'string' },
      threads: { type: 'string' },
      help: { type: 'boolean' },
    },
    allowPositionals: true,
    strict: true,
  });
  if (values.help || positionals.length !== 1) {
    process.stderr.write(`${VERIFY_GOLDEN_USAGE}\n`);
    return values.help ? 0 : 2;
  }
  const threads = values.threads === undefined ? undefined : Number(values.threads);
  if (threads !== undefined && !(Number.isInteger(threads) && threads >= 0)) {
    process.stderr.write(`--threads must be a non-negative integer, got ${values.threads}\n`);
    return 2;
  }
  let set: GoldenSet;
  try {
    set = GoldenSet.open(resolve(positionals[0]), {
      cacheDir: values['cache-dir'] ? resolve(values['cache-dir']) : undefined,
      intraOpThreads: threads,
    });
  } catch (e) {
    process.stderr.write(`verify-golden: ${(e as Error).message}\n`);
    return 2;
  }
  try {
    const summary = await verifyGolden(set, {
      only: values.only?.split(',').map((k) => k.trim()).filter(Boolean),
      onResult: (r) => process.stdout.write(`${formatCaseResult(r)}\n`),
    });
    process.stderr.write(`verify-golden: ${summary.skipped} skipped, ${summary.seconds.toFixed(1)} s\n`);
    process.stdout.write(`${summaryLine(summary)}\n`);
    return summary.failed > 0 ? 1 : 0;
  } finally {
    await set.close();
  }
}
