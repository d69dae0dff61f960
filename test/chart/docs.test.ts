/** docs/deploy.md explains every chart value (its table is generated and must be current). */
import { existsSync, readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { replaceTable, valuesReference, valuesTableMarkdown } from '../../scripts/chart-values-doc.ts';
import { CHART_DIR, ROOT } from './chartFixtures.ts';

describe('docs/deploy.md', () => {
  const doc = readFileSync(`${ROOT}docs/deploy.md`, 'utf8');
  const valuesText = readFileSync(`${CHART_DIR}/values.yaml`, 'utf8');

  it('has the values table generated from values.yaml (run scripts/chart-values-doc.ts --write)', () => {
    const table = valuesTableMarkdown(valuesReference(valuesText));
    expect(replaceTable(doc, table)).toBe(doc);
  });

  it('every leaf value carries a "# --" description', () => {
    expect(() => valuesReference(valuesText)).not.toThrow();
    expect(() => valuesReference(valuesText.replace('# -- Replaces the chart name in resource names.\n', ''))).toThrow(/nameOverride/);
  });

  it('names only chart files that exist', () => {
    for (const [, f] of doc.matchAll(/`(charts\/fooocus-cloud\/[^`\s]+|examples\/values-[a-z-]+\.yaml|scripts\/[^`\s]+)`/g)) {
      const path = f.startsWith('examples/') ? `charts/fooocus-cloud/${f}` : f;
      expect(existsSync(`${ROOT}${path}`), path).toBe(true);
    }
  });
});
