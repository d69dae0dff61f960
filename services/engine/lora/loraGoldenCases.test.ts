import { describe, expect, it } from 'vitest';
import { GoldenSet } from '../golden/goldenSet.ts';
import { formatCaseResult, verifyGolden } from '../golden/verifyGolden.ts';
import { FEATURES, loraSection } from './testing/loraGolden.ts';

describe('verify-golden --only lora on the golden-features set', () => {
  it('passes base and every config cases.json lists, one line each', async () => {
    const set = GoldenSet.open(FEATURES);
    try {
      const summary = await verifyGolden(set, { only: ['lora'] });
      const lines = summary.results.map(formatCaseResult);
      expect(summary.results.map((r) => r.name)).toEqual(['base', ...loraSection.configs.map((c) => c.name)]);
      expect(summary.failed, lines.join('\n')).toBe(0);
      expect(summary.passed).toBe(1 + loraSection.configs.length);
      for (const line of lines) expect(line).toMatch(/^PASS lora /);
    } finally {
      await set.close();
    }
  });
});
