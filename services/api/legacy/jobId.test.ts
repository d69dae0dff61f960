import { describe, expect, it } from 'vitest';
import { taskIdOfJobId, toJobId } from './jobId.ts';

describe('job ids', () => {
  const hex = '0123456789abcdef0123456789abcdef';
  it('shows a task id in the dashed uuid form and reads both forms back', () => {
    expect(toJobId(hex)).toBe('01234567-89ab-cdef-0123-456789abcdef');
    expect(taskIdOfJobId('01234567-89AB-cdef-0123-456789abcdef')).toBe(hex);
    expect(taskIdOfJobId(hex)).toBe(hex);
  });
  it('rejects anything that is not a uuid', () => {
    expect(taskIdOfJobId('')).toBeNull();
    expect(taskIdOfJobId('0123-4567')).toBeNull();
    expect(taskIdOfJobId('../etc/passwd')).toBeNull();
  });
});
