/**
 * Runs scripts/lint-deploy.sh (shellcheck, yamllint, Dockerfile rules). In CI the tools must be
 * there (.ci/run installs them); on a machine without them the test says so and is skipped.
 */
import { spawnSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { ROOT } from './chartFixtures.ts';

const has = (cmd: string) => spawnSync('sh', ['-c', `command -v ${cmd}`]).status === 0;
const toolsPresent = has('shellcheck') && has('yamllint');

describe('deployment lint', () => {
  it.runIf(toolsPresent || process.env.CI)('shellcheck, yamllint and the Dockerfile rules pass', () => {
    const r = spawnSync('bash', ['scripts/lint-deploy.sh'], { cwd: ROOT, encoding: 'utf8', env: { ...process.env, FORCE_COLOR: '0' } });
    expect(r.status, `${r.stdout}\n${r.stderr}`).toBe(0);
  }, 120_000);
});
