import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import {
  AuthError,
  ConflictError,
  fromZodError,
  isDomainError,
  NotFoundError,
  TransientInfraError,
  UnrecoverableTaskError,
  ValidationError,
  type DomainError,
  type ErrorCode,
} from './errors.ts';

describe('domain errors', () => {
  it('carry a stable code, their class name and the cause', () => {
    const cause = new Error('socket closed');
    const errors: [DomainError, ErrorCode][] = [
      [new ValidationError([]), 'validation_error'],
      [new NotFoundError('task', 'abc'), 'not_found'],
      [new ConflictError('already finished'), 'conflict'],
      [new UnrecoverableTaskError('bad checkpoint', { cause }), 'unrecoverable_task'],
      [new TransientInfraError('db down', { cause }), 'transient_infra'],
      [new AuthError(), 'auth'],
    ];
    for (const [err, code] of errors) {
      expect(err.code).toBe(code);
      expect(err.name).toBe(err.constructor.name);
      expect(isDomainError(err)).toBe(true);
      expect(err).toBeInstanceOf(Error);
    }
    expect(errors[3][0].cause).toBe(cause);
    expect(new NotFoundError('task', 'abc').message).toBe("task 'abc' not found");
    expect(new AuthError().message).toBe('Forbidden');
    expect(isDomainError(new Error('x'))).toBe(false);
  });

  it('builds a single-field ValidationError with a body loc', () => {
    const e = ValidationError.forField(['preset'], 'Unknown preset', { type: 'preset_unknown', input: 'x', ctx: { available: [] } });
    expect(e.detail).toEqual([{ type: 'preset_unknown', loc: ['body', 'preset'], msg: 'Unknown preset', input: 'x', ctx: { available: [] } }]);
    expect(e.message).toContain('preset: Unknown preset');
  });
});

describe('fromZodError', () => {
  const schema = z.object({
    n: z.int().min(1).max(32),
    s: z.string(),
    e: z.enum(['a', 'b', 'c']),
    list: z.array(z.object({ w: z.number().gt(0) })),
    flag: z.boolean(),
  });

  it('produces FastAPI 422 detail entries with pydantic types and messages', () => {
    const result = schema.safeParse({ n: 40, s: 3, e: 'z', list: [{ w: 0 }], flag: 'yes' }, { reportInput: true });
    expect(result.success).toBe(false);
    const err = fromZodError(result.error!);
    expect(err).toBeInstanceOf(ValidationError);
    expect(err.cause).toBe(result.error);
    expect(err.detail).toEqual([
      { type: 'less_than_equal', loc: ['body', 'n'], msg: 'Input should be less than or equal to 32', input: 40, ctx: { le: 32 } },
      { type: 'string_type', loc: ['body', 's'], msg: 'Input should be a valid string', input: 3 },
      { type: 'enum', loc: ['body', 'e'], msg: "Input should be 'a', 'b' or 'c'", input: 'z', ctx: { expected: "'a', 'b' or 'c'" } },
      { type: 'greater_than', loc: ['body', 'list', 0, 'w'], msg: 'Input should be greater than 0', input: 0, ctx: { gt: 0 } },
      { type: 'bool_parsing', loc: ['body', 'flag'], msg: 'Input should be a valid boolean, unable to interpret input', input: 'yes' },
    ]);
  });

  it('reports a missing field as pydantic "missing" and supports other prefixes', () => {
    const result = z.object({ action: z.string() }).safeParse({}, { reportInput: true });
    expect(fromZodError(result.error!, { locPrefix: ['query'] }).detail).toEqual([{ type: 'missing', loc: ['query', 'action'], msg: 'Field required' }]);
  });

  it('shortens very long rejected strings (e.g. a bad base64 image)', () => {
    const result = z.object({ n: z.number() }).safeParse({ n: 'x'.repeat(5000) }, { reportInput: true });
    const input = fromZodError(result.error!).detail[0].input as string;
    expect(input.length).toBeLessThan(1100);
    expect(input).toMatch(/… \(5000 chars\)$/);
  });

  it('passes custom issue types through', () => {
    const s = z.string().refine(() => false, { message: 'nope', params: { type: 'custom_kind', ctx: { a: 1 } } });
    const result = s.safeParse('x', { reportInput: true });
    expect(fromZodError(result.error!).detail).toEqual([{ type: 'custom_kind', loc: ['body'], msg: 'nope', input: 'x', ctx: { a: 1 } }]);
  });
});
