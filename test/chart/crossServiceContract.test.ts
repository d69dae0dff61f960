/**
 * What the deployment relies on from the other parts of the project. These fail until those
 * parts exist, and fail again if they drift: the entrypoint files the images and chart run,
 * the README documenting the same commands, and the metrics the dashboard queries being
 * registered somewhere in the services.
 */
import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ENTRYPOINTS, MIGRATE_ENV_SCHEMA, ROOT } from './chartFixtures.ts';
import { SERVICE_METRICS } from './dashboard.test.ts';

function sources(dir: string): string[] {
  return readdirSync(dir).flatMap((n) => {
    const p = join(dir, n);
    if (statSync(p).isDirectory()) return n === 'node_modules' ? [] : sources(p);
    return p.endsWith('.ts') && !p.endsWith('.test.ts') ? [p] : [];
  });
}

describe('deployment contract with the services', () => {
  for (const [name, cmd] of Object.entries(ENTRYPOINTS)) {
    it(`${name}: ${cmd.at(-1)} exists`, () => {
      expect(existsSync(`${ROOT}${cmd.at(-1)}`)).toBe(true);
    });
  }

  it('services/api/migrate.ts exports its env schema as migrateEnvSchema (the chart check reads it)', () => {
    expect(MIGRATE_ENV_SCHEMA?.shape.DATABASE_URL).toBeDefined();
  });

  it('README.md documents each entrypoint command', () => {
    const readme = existsSync(`${ROOT}README.md`) ? readFileSync(`${ROOT}README.md`, 'utf8') : '';
    for (const cmd of Object.values(ENTRYPOINTS)) expect(readme, cmd.join(' ')).toContain(cmd.join(' '));
  });

  it('every metric the dashboard relies on is registered by a service', () => {
    const code = sources(`${ROOT}services`)
      .filter((p) => !p.includes(`${join('services', 'scaler')}`))
      .map((p) => readFileSync(p, 'utf8'))
      .join('\n');
    const missing = Object.keys(SERVICE_METRICS).filter((m) => !code.includes(`'${m}'`) && !code.includes(`"${m}"`));
    expect(missing).toEqual([]);
  });
});
