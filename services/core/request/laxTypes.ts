/**
 * pydantic-v2 "lax mode" scalars as zod schemas.
 *
 * FooocusAPI's `CommonRequest` declares plain `int`/`float`/`bool` fields, which pydantic
 * coerces: `"5"` is an int, `"0.5"` a float, `"true"`/`"yes"`/`1` a bool (api-contract §2:
 * "Non-strict int/float/bool accept lax coercions"). Clients rely on it — the FooocusAPI docs
 * post `"stream_output": "true"`. `StrictStr` fields stay plain `z.string()` (numbers rejected).
 *
 * The coercion is a `z.preprocess`, so `z.toJSONSchema(..., { io: 'input' })` shows the target
 * type (integer/number/boolean) with its bounds; see `commonRequestJsonSchema` for defaults.
 */
import { z } from 'zod';

const TRUE_STRINGS = new Set(['1', 'on', 't', 'true', 'y', 'yes']);
const FALSE_STRINGS = new Set(['0', 'off', 'f', 'false', 'n', 'no']);
const NUMBER_STRING = /^\s*[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?\s*$/;
const INT_STRING = /^\s*[+-]?\d+\s*$/;

function coerceBool(v: unknown): unknown {
  if (typeof v === 'string') {
    const s = v.trim().toLowerCase();
    if (TRUE_STRINGS.has(s)) return true;
    if (FALSE_STRINGS.has(s)) return false;
    return v;
  }
  if (v === 0 || v === 1) return v === 1;
  return v;
}

function coerceNumber(v: unknown): unknown {
  if (typeof v === 'string' && NUMBER_STRING.test(v)) return Number(v);
  return v;
}

function coerceInt(v: unknown, ctx: z.core.$RefinementCtx): unknown {
  if (typeof v !== 'string') return v;
  if (INT_STRING.test(v)) return Number(v);
  // Without this the inner z.int() reports a float-style error for a string.
  ctx.addIssue({
    code: 'custom',
    message: 'Input should be a valid integer, unable to parse string as an integer',
    input: v,
    params: { type: 'int_parsing' },
  });
  return v;
}

/** bool, also accepting `"true"/"false"/"yes"/"no"/"on"/"off"/"1"/"0"/"t"/"f"/"y"/"n"` and 0/1. */
export function laxBool() {
  return z.preprocess(coerceBool, z.boolean());
}

/** float with optional inclusive bounds; numeric strings are accepted. */
export function laxNumber(bounds: { min?: number; max?: number } = {}) {
  let s = z.number();
  if (bounds.min !== undefined) s = s.min(bounds.min);
  if (bounds.max !== undefined) s = s.max(bounds.max);
  return z.preprocess(coerceNumber, s);
}

/** int (safe-integer range) with optional inclusive bounds; integer strings and integral floats are accepted. */
export function laxInt(bounds: { min?: number; max?: number } = {}) {
  let s = z.int();
  if (bounds.min !== undefined) s = s.min(bounds.min);
  if (bounds.max !== undefined) s = s.max(bounds.max);
  return z.preprocess(coerceInt, s);
}

/**
 * An arbitrary-size integer kept exact: a JSON number (integral), a decimal string, or a bigint
 * (from a lossless JSON parser, turned into its decimal string). `null` is accepted (it means
 * "random" for seeds). The parsed value is `number | string | null`; callers convert with
 * `BigInt(...)`. Used for `image_seed`, whose range is 0..2^63−1 (beyond JS's 2^53).
 */
export function laxBigInt() {
  return z.preprocess(
    (v) => (typeof v === 'bigint' ? v.toString() : v),
    z
      .union([z.number(), z.string(), z.null()])
      .superRefine((v, ctx) => {
        if (typeof v === 'number' && !Number.isInteger(v)) {
          ctx.addIssue({
            code: 'custom',
            message: Number.isFinite(v)
              ? 'Input should be a valid integer, got a number with a fractional part'
              : 'Input should be a finite number',
            input: v,
            params: { type: Number.isFinite(v) ? 'int_from_float' : 'finite_number' },
          });
        }
        if (typeof v === 'string' && !INT_STRING.test(v)) {
          ctx.addIssue({
            code: 'custom',
            message: 'Input should be a valid integer, unable to parse string as an integer',
            input: v,
            params: { type: 'int_parsing' },
          });
        }
      }),
  );
}
