import { describe, expect, it } from 'vitest';
import {
  TASK_STATUSES,
  canCancel,
  canTransition,
  isTerminal,
  statusesForFooocusQuery,
  toFooocusStatus,
  type TaskStatus,
} from './taskStatus.ts';
import { isTerminalEvent } from './taskEvents.ts';

describe('task status predicates', () => {
  it('terminal statuses are exactly finished, stopped, failed and canceled', () => {
    expect(TASK_STATUSES.filter(isTerminal)).toEqual(['finished', 'stopped', 'failed', 'canceled']);
  });

  it('only queued and running tasks can be canceled', () => {
    expect(TASK_STATUSES.filter(canCancel)).toEqual(['queued', 'running']);
  });

  it('allows only the lifecycle transitions (I1 plus the reconciler requeue)', () => {
    const allowed = TASK_STATUSES.flatMap((from) => TASK_STATUSES.filter((to) => canTransition(from, to)).map((to) => `${from}→${to}`));
    expect(allowed).toEqual([
      'queued→running',
      'queued→canceled',
      'running→queued',
      'running→finished',
      'running→stopped',
      'running→failed',
      'running→canceled',
    ]);
  });
});

describe('FooocusAPI status mapping (api-contract.md §4.3)', () => {
  it('maps records: queued→null, running, finished, stopped→stop; failures and cancels explicit by default', () => {
    const mapped = Object.fromEntries(TASK_STATUSES.map((s) => [s, toFooocusStatus(s)]));
    expect(mapped).toEqual({ queued: null, running: 'running', finished: 'finished', stopped: 'stop', failed: 'failed', canceled: 'canceled' });
  });

  it('reproduces FooocusAPI exactly when asked: failures read as finished, cancels as stop', () => {
    expect(toFooocusStatus('failed', 'record', { fooocusFailures: true })).toBe('finished');
    expect(toFooocusStatus('canceled', 'record', { fooocusFailures: true })).toBe('stop');
  });

  it('the async response always says pending', () => {
    for (const s of TASK_STATUSES) expect(toFooocusStatus(s as TaskStatus, 'async-response')).toBe('pending');
  });

  it('/tasks lists: pending = queued, current = running, history = everything not queued', () => {
    expect(statusesForFooocusQuery('pending')).toEqual(['queued']);
    expect(statusesForFooocusQuery('current')).toEqual(['running']);
    expect(statusesForFooocusQuery('history')).toEqual(['running', 'finished', 'stopped', 'failed', 'canceled']);
  });
});

describe('task events', () => {
  it('finished, failed and canceled are terminal; started and progress are not', () => {
    expect(isTerminalEvent({ type: 'finished', results: [] })).toBe(true);
    expect(isTerminalEvent({ type: 'failed', error: { code: 'engine_error', message: '' } })).toBe(true);
    expect(isTerminalEvent({ type: 'canceled' })).toBe(true);
    expect(isTerminalEvent({ type: 'started', attempt: 1, workerId: 'w' })).toBe(false);
    expect(isTerminalEvent({ type: 'progress', step: 1, total: 2, percent: 50, message: '' })).toBe(false);
  });
});
