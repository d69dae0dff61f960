/**
 * Python's text forms of values, so metadata strings come out byte for byte as Fooocus writes
 * them: Fooocus builds its metadata with `str(...)`, `repr` of lists and tuples, and
 * `json.dumps` (F modules/meta_parser.py, modules/async_worker.py `save_and_log`).
 *
 * Python tells ints from floats and JavaScript does not, so a Python float is wrapped:
 * `pyFloat(4)` prints `4.0`, a plain number must be an integer and prints `4`. Tuples are
 * wrapped too (`pyTuple(1152, 896)` → `(1152, 896)`); arrays are lists.
 */

export class PyFloat {
  constructor(readonly value: number) {}
}

export class PyTuple {
  readonly items: readonly PyValue[];
  constructor(...items: PyValue[]) {
    this.items = items;
  }
}

export type PyValue = string | number | bigint | boolean | null | PyFloat | PyTuple | readonly PyValue[] | { readonly [key: string]: PyValue };

export const pyFloat = (value: number): PyFloat => new PyFloat(value);
export const pyTuple = (...items: PyValue[]): PyTuple => new PyTuple(...items);

/**
 * `repr(float)` (= `str(float)`): the shortest digits that round-trip, in fixed notation when
 * the decimal exponent is in [-4, 16), otherwise `d.ddde±XX`; integral values get `.0`.
 */
export function pyFloatRepr(x: number): string {
  if (Number.isNaN(x)) return 'nan';
  if (!Number.isFinite(x)) return x > 0 ? 'inf' : '-inf';
  if (x === 0) return Object.is(x, -0) ? '-0.0' : '0.0';
  const sign = x < 0 ? '-' : '';
  const [mantissa, exp] = Math.abs(x).toExponential().split('e'); // shortest round-trip digits
  const digits = mantissa.replace('.', '');
  const decpt = Number(exp) + 1; // value = 0.<digits> × 10^decpt
  if (decpt > -4 && decpt <= 16) {
    if (decpt <= 0) return `${sign}0.${'0'.repeat(-decpt)}${digits}`;
    if (decpt >= digits.length) return `${sign}${digits}${'0'.repeat(decpt - digits.length)}.0`;
    return `${sign}${digits.slice(0, decpt)}.${digits.slice(decpt)}`;
  }
  const e = decpt - 1;
  const m = digits.length > 1 ? `${digits[0]}.${digits.slice(1)}` : digits;
  return `${sign}${m}e${e < 0 ? '-' : '+'}${String(Math.abs(e)).padStart(2, '0')}`;
}

/** `repr(str)`: single quotes unless the text has ' and no ", Python's escapes. */
export function pyStrRepr(s: string): string {
  const quote = s.includes("'") && !s.includes('"') ? '"' : "'";
  let out = quote;
  for (const ch of s) {
    const cp = ch.codePointAt(0)!;
    if (ch === quote || ch === '\\') out += `\\${ch}`;
    else if (ch === '\n') out += '\\n';
    else if (ch === '\r') out += '\\r';
    else if (ch === '\t') out += '\\t';
    else if (cp < 0x20 || cp === 0x7f) out += `\\x${cp.toString(16).padStart(2, '0')}`;
    else if (!isPrintable(cp)) out += cp <= 0xff ? `\\x${hex(cp, 2)}` : cp <= 0xffff ? `\\u${hex(cp, 4)}` : `\\U${hex(cp, 8)}`;
    else out += ch;
  }
  return out + quote;
}

/** `str(value)` (a string prints as itself, containers print their items' repr). */
export function pyStr(value: PyValue): string {
  return typeof value === 'string' ? value : pyRepr(value);
}

/** `repr(value)`. */
export function pyRepr(value: PyValue): string {
  if (typeof value === 'string') return pyStrRepr(value);
  if (typeof value === 'boolean') return value ? 'True' : 'False';
  if (value === null) return 'None';
  if (typeof value === 'bigint') return value.toString();
  if (typeof value === 'number') return pyInt(value);
  if (value instanceof PyFloat) return pyFloatRepr(value.value);
  if (value instanceof PyTuple) {
    const items = value.items.map(pyRepr);
    return items.length === 1 ? `(${items[0]},)` : `(${items.join(', ')})`;
  }
  if (Array.isArray(value)) return `[${value.map(pyRepr).join(', ')}]`;
  const entries = Object.entries(value as Record<string, PyValue>);
  return `{${entries.map(([k, v]) => `${pyStrRepr(k)}: ${pyRepr(v)}`).join(', ')}}`;
}

export interface JsonDumpsOptions {
  /** json.dumps default True: every non-ASCII character as \uXXXX. */
  ensureAscii?: boolean;
  /** Sort object keys (by code point, as Python's sorted on str). Default false. */
  sortKeys?: boolean;
}

/** `json.dumps(value)` with the default separators `', '` and `': '`. */
export function pyJsonDumps(value: PyValue, options: JsonDumpsOptions = {}): string {
  const ensureAscii = options.ensureAscii ?? true;
  const walk = (v: PyValue): string => {
    if (typeof v === 'string') return pyJsonString(v, ensureAscii);
    if (typeof v === 'boolean') return v ? 'true' : 'false';
    if (v === null) return 'null';
    if (typeof v === 'bigint') return v.toString();
    if (typeof v === 'number') return pyInt(v);
    if (v instanceof PyFloat) {
      if (Number.isNaN(v.value)) return 'NaN';
      if (!Number.isFinite(v.value)) return v.value > 0 ? 'Infinity' : '-Infinity';
      return pyFloatRepr(v.value);
    }
    if (v instanceof PyTuple) return `[${v.items.map(walk).join(', ')}]`;
    if (Array.isArray(v)) return `[${v.map(walk).join(', ')}]`;
    let entries = Object.entries(v as Record<string, PyValue>);
    if (options.sortKeys) entries = entries.sort(([a], [b]) => compareCodePoints(a, b));
    return `{${entries.map(([k, x]) => `${pyJsonString(k, ensureAscii)}: ${walk(x)}`).join(', ')}}`;
  };
  return walk(value);
}

/** A JSON string literal as Python's json module writes it. */
export function pyJsonString(s: string, ensureAscii: boolean): string {
  // JSON.stringify escapes exactly Python's set below 0x20 plus '"' and '\\', with the same short
  // forms (\b \f \n \r \t) and lower-case \u00XX; ensure_ascii additionally escapes 0x7F and up,
  // one \uXXXX per UTF-16 unit (so astral characters become surrogate pairs, as in Python).
  const json = JSON.stringify(s);
  return ensureAscii ? json.replace(/[\u007f-\uffff]/g, (c) => `\\u${hex(c.charCodeAt(0), 4)}`) : json;
}

/** Python's `str.strip()` with no argument (Unicode whitespace as Python defines it). */
export function pyStrip(s: string): string {
  return s.replace(/^[\t\n\v\f\r\x1c-\x1f \x85\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]+|[\t\n\v\f\r\x1c-\x1f \x85\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000]+$/g, '');
}

/** `pathlib.PurePosixPath(name).stem`: the last segment without its last suffix. */
export function pyPathStem(name: string): string {
  const parts = name.split('/').filter((p) => p !== '' && p !== '.');
  const base = parts.length > 0 ? parts[parts.length - 1] : '';
  const i = base.lastIndexOf('.');
  return i > 0 && i < base.length - 1 ? base.slice(0, i) : base;
}

function pyInt(n: number): string {
  if (!Number.isInteger(n)) throw new TypeError(`expected an integer for a Python int, got ${n} (wrap floats with pyFloat)`);
  return Object.is(n, -0) ? '0' : BigInt(n).toString();
}

function compareCodePoints(a: string, b: string): number {
  const ca = Array.from(a, (c) => c.codePointAt(0)!);
  const cb = Array.from(b, (c) => c.codePointAt(0)!);
  for (let i = 0; i < Math.min(ca.length, cb.length); i++) if (ca[i] !== cb[i]) return ca[i] - cb[i];
  return ca.length - cb.length;
}

/** Python's str.isprintable, approximated by Unicode general categories (Other and Separator except space). */
function isPrintable(cp: number): boolean {
  if (cp === 0x20) return true;
  return !/[\p{C}\p{Z}]/u.test(String.fromCodePoint(cp));
}

function hex(n: number, width: number): string {
  return n.toString(16).padStart(width, '0');
}
