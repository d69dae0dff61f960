import { describe, expect, it } from 'vitest';
import { TASK_STATUSES } from '../../core/task/taskStatus.ts';
import { MIGRATIONS } from './migrations.ts';

describe('migrations', () => {
  it('have unique, increasing ids', () => {
    const ids = MIGRATIONS.map((m) => m.id);
    expect(ids).toEqual([...new Set(ids)].sort((a, b) => a - b));
  });

  it("the tasks.status CHECK lists exactly TASK_STATUSES (taskStatus.ts is the one source)", () => {
    const sqlText = MIGRATIONS.flatMap((m) => m.statements).join('\n');
    const check = /status text NOT NULL DEFAULT 'queued'\s+CHECK \(status IN \(([^)]*)\)\)/.exec(sqlText);
    expect(check).not.toBeNull();
    const listed = check![1].split(',').map((s) => s.trim().replace(/'/g, ''));
    expect(listed).toEqual([...TASK_STATUSES]);
  });

  it('each statement is a single statement (PGlite runs one per query)', () => {
    for (const statement of MIGRATIONS.flatMap((m) => m.statements)) expect(statement.trim().replace(/;$/, '')).not.toContain(';');
  });
});
