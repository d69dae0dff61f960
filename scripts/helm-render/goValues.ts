/**
 * How Go values look from JavaScript in this renderer, and the Go rules for printing, truth
 * and comparison that text/template applies to them.
 *
 * Representation (chosen so that Helm's well-known surprises are reproduced, not hidden):
 * - nil, and a missing map key (Helm runs templates with missingkey=zero): `null`.
 * - string, bool: JS string, boolean.
 * - float64: JS number. Every number in values.yaml is a float64 in Helm, because values are
 *   decoded through JSON; so `{{ .Values.n }}` prints 1e+06 for 1000000, `printf "%d"` on it
 *   prints `%!d(float64=3)`, and `eq .Values.n 1` is "incompatible types for comparison".
 * - int (int64): JS bigint. Integer constants in templates, `len`, and Sprig's integer math.
 * - []interface{}: JS array; map[string]interface{}: plain object.
 * - Helm's built-in objects (.Release, .Chart, .Capabilities, .Files, .Template): GoStruct,
 *   which has named fields and methods and errors on unknown fields as Go does.
 */

export type GoMap = { [key: string]: GoValue };
export type GoValue = null | string | boolean | number | bigint | GoValue[] | GoMap | GoStruct;

export class GoStruct {
  constructor(
    /** The Go type name used in error messages, e.g. "chart.Metadata". */
    readonly typeName: string,
    readonly fields: Record<string, GoValue>,
    readonly methods: Record<string, (...args: GoValue[]) => GoValue> = {},
  ) {}
}

export function isMap(v: GoValue): v is GoMap {
  return v !== null && typeof v === 'object' && !Array.isArray(v) && !(v instanceof GoStruct);
}

/** Go reflect kind names as Sprig's kindOf reports them. */
export function kindOf(v: GoValue): string {
  if (v === null) return 'invalid';
  if (typeof v === 'string') return 'string';
  if (typeof v === 'boolean') return 'bool';
  if (typeof v === 'number') return 'float64';
  if (typeof v === 'bigint') return 'int64';
  if (Array.isArray(v)) return 'slice';
  if (v instanceof GoStruct) return 'struct';
  return 'map';
}

export function typeName(v: GoValue): string {
  if (v === null) return 'interface {}';
  if (typeof v === 'number') return 'float64';
  if (typeof v === 'bigint') return 'int';
  if (Array.isArray(v)) return '[]interface {}';
  if (v instanceof GoStruct) return v.typeName;
  if (isMap(v)) return 'map[string]interface {}';
  return typeof v === 'boolean' ? 'bool' : 'string';
}

/** text/template's isTrue: the zero value of any type is false; a struct is always true. */
export function isTrue(v: GoValue): boolean {
  if (v === null) return false;
  if (typeof v === 'boolean') return v;
  if (typeof v === 'string') return v.length > 0;
  if (typeof v === 'number') return v !== 0;
  if (typeof v === 'bigint') return v !== 0n;
  if (Array.isArray(v)) return v.length > 0;
  if (v instanceof GoStruct) return true;
  return Object.keys(v).length > 0;
}

/** strconv.FormatFloat(f, 'g', -1, 64), which is what fmt's %v prints for a float64. */
export function formatFloat(f: number): string {
  if (Number.isNaN(f)) return 'NaN';
  if (f === Infinity) return '+Inf';
  if (f === -Infinity) return '-Inf';
  if (f === 0) return Object.is(f, -0) ? '-0' : '0';
  // Shortest round-trip digits (JS and Go agree on them), then strconv's 'g' rule for the
  // shortest form: exponent notation when exp < -4 || exp >= 6 (Go prints 1e+07, 1.234567e+06).
  const [mant, expStr] = f.toExponential().split('e');
  const exp = Number(expStr);
  const digits = mant.replace('-', '').replace('.', '');
  const neg = f < 0 ? '-' : '';
  const eprec = 6;
  if (exp < -4 || exp >= eprec) {
    const m = digits.length > 1 ? `${digits[0]}.${digits.slice(1)}` : digits;
    const sign = exp < 0 ? '-' : '+';
    const e = String(Math.abs(exp)).padStart(2, '0');
    return `${neg}${m}e${sign}${e}`;
  }
  if (exp < 0) return `${neg}0.${'0'.repeat(-exp - 1)}${digits}`;
  if (digits.length <= exp + 1) return `${neg}${digits}${'0'.repeat(exp + 1 - digits.length)}`;
  return `${neg}${digits.slice(0, exp + 1)}.${digits.slice(exp + 1)}`;
}

/** fmt's %v for any value (used by printing actions, print/printf and Sprig's strval). */
export function formatValue(v: GoValue, nested = false): string {
  if (v === null) return nested ? '<nil>' : '<no value>';
  if (typeof v === 'string') return v;
  if (typeof v === 'boolean') return v ? 'true' : 'false';
  if (typeof v === 'bigint') return v.toString();
  if (typeof v === 'number') return formatFloat(v);
  if (Array.isArray(v)) return `[${v.map((x) => formatValue(x, true)).join(' ')}]`;
  if (v instanceof GoStruct) {
    return `{${Object.values(v.fields)
      .map((x) => formatValue(x, true))
      .join(' ')}}`;
  }
  return `map[${Object.keys(v)
    .sort()
    .map((k) => `${k}:${formatValue(v[k], true)}`)
    .join(' ')}]`;
}

/** strconv.Quote: Go's double-quoted string with escapes. */
export function goQuote(s: string): string {
  let out = '"';
  for (const ch of s) {
    const cp = ch.codePointAt(0)!;
    if (ch === '"') out += '\\"';
    else if (ch === '\\') out += '\\\\';
    else if (ch === '\n') out += '\\n';
    else if (ch === '\t') out += '\\t';
    else if (ch === '\r') out += '\\r';
    else if (ch === '\x07') out += '\\a';
    else if (ch === '\b') out += '\\b';
    else if (ch === '\f') out += '\\f';
    else if (ch === '\v') out += '\\v';
    else if (cp < 0x20 || cp === 0x7f) out += `\\x${cp.toString(16).padStart(2, '0')}`;
    else if (cp >= 0x80 && cp < 0xa0) out += `\\u${cp.toString(16).padStart(4, '0')}`;
    else out += ch;
  }
  return out + '"';
}

type BasicKind = 'bool' | 'int' | 'float' | 'string' | 'nil' | 'other';

function basicKind(v: GoValue): BasicKind {
  if (v === null) return 'nil';
  if (typeof v === 'boolean') return 'bool';
  if (typeof v === 'bigint') return 'int';
  if (typeof v === 'number') return 'float';
  if (typeof v === 'string') return 'string';
  return 'other';
}

/**
 * text/template's eq (Go 1.18+): basic kinds only; int against float64 is an error, not false;
 * nil against anything else is false; maps and slices are "non-comparable".
 */
export function goEq(a: GoValue, ...bs: GoValue[]): boolean {
  if (bs.length === 0) throw new Error('missing argument for comparison');
  const ka = basicKind(a);
  for (const b of bs) {
    const kb = basicKind(b);
    if (ka !== kb) {
      if (ka !== 'nil' && kb !== 'nil') throw new Error(`incompatible types for comparison: ${typeName(a)} and ${typeName(b)}`);
      continue;
    }
    if (ka === 'nil') return true;
    if (ka === 'other') throw new Error(`non-comparable type ${typeName(a)}`);
    if (a === b) return true;
  }
  return false;
}

export function goLt(a: GoValue, b: GoValue): boolean {
  const ka = basicKind(a);
  const kb = basicKind(b);
  if (ka === 'bool' || ka === 'nil' || ka === 'other' || kb === 'nil' || kb === 'other') throw new Error('invalid type for comparison');
  if (ka !== kb) throw new Error('incompatible types for comparison');
  return (a as string | number | bigint) < (b as string | number | bigint);
}
