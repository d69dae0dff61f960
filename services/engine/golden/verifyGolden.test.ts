/**
 * verify-golden against the public golden set: every case kind it lists is
 * implemented and every case passes; and the command line reports and exits
 * as `npm test` relies on (one line per case, `N passed, M failed`, non-zero
 * on a failure, unknown kinds skipped and not counted).
 *
 * The kinds run one test each over one shared GoldenSet (one checkpoint load,
 * one graph cache). `txt2img` and `sampler_runs` are the long parts — full
 * sampler runs with the real UNet and VAE, ~300 UNet evaluations in all — and
 * get a longer timeout; the rest take well under a second each after the
 * graphs are built.
 */
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { afterAll, describe, expect, it } from 'vitest';
import { GoldenSet } from './goldenSet.ts';
import { CASE_RUNNERS, formatCaseResult, verifyGolden } from './verifyGolden.ts';

const repoRoot = fileURLToPath(new URL('../../../', import.meta.url));
const goldenDir = path.join(process.env.FOOOCUS_SHARED ?? path.resolve(repoRoot, '../shared'), 'golden');

/** Full sampler runs with the real UNet: most of the run time. */
const LONG_KINDS = new Set(['txt2img', 'sampler_runs']);
const LONG_TIMEOUT_MS = 600_000;

const set = GoldenSet.open(goldenDir);
afterAll(() => set.close());

describe('verify-golden on the public golden set (tiny checkpoint, CPU float32)', () => {
  it('implements every case kind the set lists', () => {
    expect(set.kinds().filter((k) => !Object.hasOwn(CASE_RUNNERS, k))).toEqual([]);
  });

  for (const kind of set.kinds()) {
    const label = LONG_KINDS.has(kind) ? `${kind} (long: full UNet runs)` : kind;
    it(
      `${label}: every case passes`,
      async () => {
        const summary = await verifyGolden(set, { only: [kind] });
        const notPassed = summary.results.filter((r) => r.status !== 'pass').map(formatCaseResult);
        expect(notPassed).toEqual([]);
        expect(summary.passed).toBeGreaterThan(0);
      },
      LONG_KINDS.has(kind) ? LONG_TIMEOUT_MS : undefined,
    );
  }
});

describe('verify-golden command line', () => {
  const run = promisify(execFile);
  const cli = path.join(repoRoot, 'services/engine/cli.ts');
  const verify = async (dir: string, ...args: string[]) => {
    try {
      const { stdout } = await run(process.execPath, ['--import', 'tsx', cli, 'verify-golden', dir, ...args], { cwd: repoRoot });
      return { code: 0, lines: stdout.trim().split('\n') };
    } catch (e) {
      const err = e as { code: number; stdout: string };
      return { code: err.code, lines: err.stdout.trim().split('\n') };
    }
  };

  it('prints one line per case and exactly "N passed, M failed", exit status 0', async () => {
    const { code, lines } = await verify(goldenDir, '--only', 'tokens,tokenizer_bpe');
    const bpe = (set.section('tokenizer_bpe') as { items: unknown[] }).items.length;
    const prompts = (set.section('tokens') as { prompts: unknown[] }).prompts.length;
    expect(code).toBe(0);
    expect(lines.filter((l) => l.startsWith('PASS '))).toHaveLength(bpe + prompts);
    expect(lines.at(-1)).toBe(`${bpe + prompts} passed, 0 failed`);
  });

  it('reads everything from the directory: a different prompt fails, an unknown kind is skipped, exit status 1', async () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'golden-tampered-'));
    try {
      const tokens = set.section('tokens') as { file: string; prompts: { index: number; text: string }[] };
      const cases = {
        cases: {
          tokens: { ...tokens, file: path.join(goldenDir, tokens.file), prompts: [{ ...tokens.prompts[0], text: `${tokens.prompts[0].text} and a dog` }] },
          no_such_kind: { file: 'cases/no_such_kind.safetensors' },
        },
      };
      writeFileSync(path.join(dir, 'cases.json'), JSON.stringify(cases));
      const { code, lines } = await verify(dir);
      expect(code).toBe(1);
      expect(lines[0]).toMatch(/^FAIL tokens p0 .*p0\.clip_l\.ids/);
      expect(lines).toContain('SKIP no_such_kind not supported');
      expect(lines.at(-1)).toBe('0 passed, 1 failed');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
