// The ports and the task model must stay driver-free (ARCHITECTURE.md: core imports no pg,
// nats, S3 or express; ports expose no driver type). Checked on the import statements.
import { readFileSync, readdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const here = dirname(fileURLToPath(import.meta.url));
const files = [join(here, '..', 'ports.ts'), ...readdirSync(here).filter((f) => f.endsWith('.ts') && !f.endsWith('.test.ts')).map((f) => join(here, f))];

describe('core task model and ports', () => {
  it.each(files.map((f) => [f.slice(f.indexOf('services/')), f]))('%s imports only relative core modules', (_name, file) => {
    const specifiers = [...readFileSync(file, 'utf8').matchAll(/^\s*import\s[^'"]*['"]([^'"]+)['"]/gm)].map((m) => m[1]);
    for (const spec of specifiers) {
      expect(spec.startsWith('./') || spec.startsWith('../'), spec).toBe(true);
      expect(spec, spec).not.toMatch(/infra|api|worker|engine/);
    }
  });
});
