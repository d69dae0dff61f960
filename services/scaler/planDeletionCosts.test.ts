import { describe, expect, it } from 'vitest';
import { BUSY_COST, IDLE_COST, planDeletionCosts } from './planDeletionCosts.ts';

describe('planDeletionCosts', () => {
  it('marks idle workers cheaper to delete than busy ones', () => {
    const patches = planDeletionCosts(
      [
        { name: 'w-1', deletionCost: null },
        { name: 'w-2', deletionCost: null },
      ],
      new Set(['w-2']),
    );
    expect(patches).toEqual([
      { pod: 'w-1', cost: IDLE_COST },
      { pod: 'w-2', cost: BUSY_COST },
    ]);
    expect(IDLE_COST).toBeLessThan(BUSY_COST);
  });

  it('leaves pods that already carry the right cost alone, and re-marks a pod that became idle', () => {
    const patches = planDeletionCosts(
      [
        { name: 'w-1', deletionCost: IDLE_COST },
        { name: 'w-2', deletionCost: BUSY_COST },
        { name: 'w-3', deletionCost: BUSY_COST },
      ],
      new Set(['w-2']),
    );
    expect(patches).toEqual([{ pod: 'w-3', cost: IDLE_COST }]);
  });
});
