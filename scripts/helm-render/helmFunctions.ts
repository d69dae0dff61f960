/**
 * The functions available to templates: text/template's built-ins and the part of Helm's
 * function map (Sprig plus include/tpl/required/toYaml/lookup) that this chart may use.
 * Each one follows its Go source: parameter types as declared there (so a float64 from
 * values passed to `indent` fails as in Helm), argument order (`trimSuffix SUFFIX STRING`,
 * `contains SUBSTR STRING`), and output format (`toYaml` sorts keys, drops the trailing
 * newline and does not indent sequences, like sigs.k8s.io/yaml). A function missing here is
 * a parse error in the chart, never a silent difference.
 */
import { createHash } from 'node:crypto';
import { Document } from 'yaml';
import type { GoFunc } from './goTemplateExec.ts';
import { formatFloat, formatValue, goEq, goLt, goQuote, GoStruct, isMap, isTrue, kindOf, typeName, type GoMap, type GoValue } from './goValues.ts';

// ---------------------------------------------------------------------------------------------
// Conversions shared by several functions

/** Sprig's strval: strings as they are, everything else through fmt's %v. */
export function strval(v: GoValue): string {
  if (typeof v === 'string') return v;
  if (v === null) return '<nil>';
  return formatValue(v, true);
}

/** spf13/cast.ToInt64 as Sprig's toInt64 uses it (errors become 0). */
export function toInt64(v: GoValue): bigint {
  if (typeof v === 'bigint') return v;
  if (typeof v === 'number') return BigInt(Math.trunc(v));
  if (typeof v === 'boolean') return v ? 1n : 0n;
  if (typeof v === 'string') {
    const t = v.trim();
    if (/^[+-]?\d+$/.test(t)) return BigInt(t);
    if (/^[+-]?0[xX][0-9a-fA-F]+$/.test(t)) return BigInt(t.replace(/^\+/, ''));
    return 0n;
  }
  return 0n;
}

function toFloat64(v: GoValue): number {
  if (typeof v === 'number') return v;
  if (typeof v === 'bigint') return Number(v);
  if (typeof v === 'boolean') return v ? 1 : 0;
  if (typeof v === 'string') {
    const f = Number(v.trim());
    return Number.isNaN(f) ? 0 : f;
  }
  return 0;
}

/** Sprig's empty: the zero value of its type (nil, "", 0, false, empty list or map). */
export function isEmpty(v: GoValue): boolean {
  if (v instanceof GoStruct) return false;
  return !isTrue(v);
}

/** Go values to plain JSON-able data, as encoding/json would see them. */
function toPlain(v: GoValue): unknown {
  if (v === null || typeof v === 'string' || typeof v === 'boolean') return v;
  if (typeof v === 'number') return v;
  if (typeof v === 'bigint') return Number(v);
  if (Array.isArray(v)) return v.map(toPlain);
  if (v instanceof GoStruct) throw new Error(`cannot marshal ${v.typeName}`);
  const out: Record<string, unknown> = {};
  for (const k of Object.keys(v).sort()) out[k] = toPlain(v[k]);
  return out;
}

/** encoding/json.Marshal: sorted keys, HTML-safe escaping of <, > and &. */
export function goJson(v: GoValue): string {
  return JSON.stringify(toPlain(v))
    .replace(/</g, '\\u003c')
    .replace(/>/g, '\\u003e')
    .replace(/&/g, '\\u0026')
    .replace(/\u2028/g, '\\u2028')
    .replace(/\u2029/g, '\\u2029');
}

/**
 * sigs.k8s.io/yaml.Marshal: JSON first (sorted keys, numbers as JSON numbers), then YAML 1.1
 * (go-yaml v2) output: two-space indent, sequences not indented under their key, strings
 * that YAML 1.1 would read as another type quoted.
 */
export function goToYaml(v: GoValue): string {
  const doc = new Document(toPlain(v), { version: '1.1' });
  return doc.toString({ indentSeq: false, lineWidth: 0, minContentWidth: 0 });
}

// ---------------------------------------------------------------------------------------------
// fmt.Sprintf, for the verbs charts use (%s %v %d %q %t %f %x and %%)

function badVerb(verb: string, v: GoValue): string {
  return v === null ? `%!${verb}(<nil>)` : `%!${verb}(${typeName(v)}=${formatValue(v, true)})`;
}

function pad(s: string, width: number | undefined, minus: boolean, zero: boolean): string {
  if (width === undefined || s.length >= width) return s;
  if (minus) return s + ' '.repeat(width - s.length);
  if (zero) {
    const sign = /^[+-]/.test(s) ? s[0] : '';
    return sign + '0'.repeat(width - s.length) + s.slice(sign.length);
  }
  return ' '.repeat(width - s.length) + s;
}

function formatVerb(verb: string, v: GoValue, prec: number | undefined, plus: boolean): string {
  switch (verb) {
    case 'v':
      return formatValue(v, true);
    case 's':
      if (typeof v === 'string') return prec === undefined ? v : v.slice(0, prec);
      if (Array.isArray(v)) return `[${v.map((x) => formatVerb('s', x, prec, plus)).join(' ')}]`;
      if (isMap(v)) return `map[${Object.keys(v).sort().map((k) => `${k}:${formatVerb('s', v[k], prec, plus)}`).join(' ')}]`;
      return badVerb('s', v);
    case 'd':
      if (typeof v === 'bigint') return (plus && v >= 0n ? '+' : '') + v.toString();
      if (Array.isArray(v)) return `[${v.map((x) => formatVerb('d', x, prec, plus)).join(' ')}]`;
      return badVerb('d', v);
    case 'q':
      if (typeof v === 'string') return goQuote(v);
      if (typeof v === 'bigint') return `'${String.fromCodePoint(Number(v))}'`;
      return badVerb('q', v);
    case 't':
      return typeof v === 'boolean' ? String(v) : badVerb('t', v);
    case 'f':
    case 'F':
      if (typeof v === 'number') return (plus && v >= 0 ? '+' : '') + v.toFixed(prec ?? 6);
      return badVerb(verb, v);
    case 'g':
      if (typeof v === 'number') return formatFloat(v);
      return badVerb('g', v);
    case 'x':
      if (typeof v === 'bigint') return v.toString(16);
      if (typeof v === 'string') return Buffer.from(v, 'utf8').toString('hex');
      return badVerb('x', v);
    default:
      throw new Error(`printf verb %${verb} is not supported by this renderer`);
  }
}

export function goSprintf(format: string, args: GoValue[]): string {
  let out = '';
  let argi = 0;
  for (let i = 0; i < format.length; i++) {
    const c = format[i];
    if (c !== '%') {
      out += c;
      continue;
    }
    const m = /^([-+# 0]*)(\d+)?(?:\.(\d+))?([a-zA-Z%])/.exec(format.slice(i + 1));
    if (!m) {
      out += '%!(NOVERB)';
      break;
    }
    i += m[0].length;
    const [, flags, width, precision, verb] = m;
    if (verb === '%') {
      out += '%';
      continue;
    }
    if (argi >= args.length) {
      out += `%!${verb}(MISSING)`;
      continue;
    }
    const s = formatVerb(verb, args[argi++], precision === undefined ? undefined : Number(precision), flags.includes('+'));
    out += pad(s, width === undefined ? undefined : Number(width), flags.includes('-'), flags.includes('0') && verb !== 's' && verb !== 'v');
  }
  if (argi < args.length) {
    out += `%!(EXTRA ${args
      .slice(argi)
      .map((a) => (a === null ? '<nil>' : `${typeName(a)}=${formatValue(a, true)}`))
      .join(', ')})`;
  }
  return out;
}

/** fmt.Sprint: spaces between operands when neither side is a string. */
function goSprint(args: GoValue[]): string {
  let out = '';
  args.forEach((a, i) => {
    if (i > 0 && typeof a !== 'string' && typeof args[i - 1] !== 'string') out += ' ';
    out += formatValue(a, true);
  });
  return out;
}

// ---------------------------------------------------------------------------------------------

const strList = (v: GoValue): string[] => {
  if (Array.isArray(v)) return v.map((x) => (x === null ? '' : strval(x)));
  if (v === null) return [];
  return [strval(v)];
};

export interface HelmFunctionOptions {
  /** Names Helm's `lookup` may see; `helm template` has no cluster, so it returns {} by default. */
  lookup?: (apiVersion: string, kind: string, namespace: string, name: string) => GoMap;
}

export function helmFunctions(opts: HelmFunctionOptions = {}): Record<string, GoFunc> {
  const f = (params: GoFunc['params'], fn: GoFunc['fn'], variadic?: GoFunc['variadic']): GoFunc => ({ params, fn, variadic });
  return {
    // text/template built-ins (and/or are handled lazily by the executor)
    not: f(['any'], ([a]) => !isTrue(a)),
    len: f(['any'], ([a]) => {
      if (typeof a === 'string') return BigInt(Buffer.byteLength(a, 'utf8'));
      if (Array.isArray(a)) return BigInt(a.length);
      if (isMap(a)) return BigInt(Object.keys(a).length);
      throw new Error(`len of type ${typeName(a)}`);
    }),
    index: f(
      ['any'],
      ([item, ...idx]) => {
        let v = item;
        for (const i of idx) {
          if (Array.isArray(v)) {
            if (typeof i !== 'bigint') throw new Error(`cannot index slice/array with type ${typeName(i)}`);
            if (i < 0n || i >= BigInt(v.length)) throw new Error(`index out of range: ${i}`);
            v = v[Number(i)];
          } else if (isMap(v)) {
            if (typeof i !== 'string') throw new Error(`value has type ${typeName(i)}; should be string`);
            v = Object.hasOwn(v, i) ? v[i] : null;
          } else if (v === null) {
            throw new Error('index of untyped nil');
          } else {
            throw new Error(`can't index item of type ${typeName(v)}`);
          }
        }
        return v;
      },
      'any',
    ),
    print: f([], (args) => goSprint(args), 'any'),
    println: f([], (args) => args.map((a) => formatValue(a, true)).join(' ') + '\n', 'any'),
    printf: f(['string'], ([fmt, ...args]) => goSprintf(fmt as string, args), 'any'),
    eq: f(['any'], ([a, ...b]) => goEq(a, ...b), 'any'),
    ne: f(['any', 'any'], ([a, b]) => !goEq(a, b)),
    lt: f(['any', 'any'], ([a, b]) => goLt(a, b)),
    le: f(['any', 'any'], ([a, b]) => goLt(a, b) || goEq(a, b)),
    gt: f(['any', 'any'], ([a, b]) => goLt(b, a)),
    ge: f(['any', 'any'], ([a, b]) => goLt(b, a) || goEq(a, b)),

    // Helm
    include: f(['string', 'any'], ([name, data], ctx) => ctx.include(name as string, data)),
    tpl: f(['string', 'any'], ([text, data], ctx) => ctx.tpl(text as string, data)),
    required: f(['string', 'any'], ([warn, val]) => {
      if (val === null || (typeof val === 'string' && val === '')) throw new Error(warn as string);
      return val;
    }),
    fail: f(['string'], ([msg]) => {
      throw new Error(msg as string);
    }),
    toYaml: f(['any'], ([v]) => goToYaml(v).replace(/\n$/, '')),
    toJson: f(['any'], ([v]) => goJson(v)),
    lookup: f(['string', 'string', 'string', 'string'], ([a, k, ns, n]) => (opts.lookup ? opts.lookup(a as string, k as string, ns as string, n as string) : {})),

    // Sprig: defaults and logic
    default: f(['any'], ([d, ...given]) => (given.length === 0 || isEmpty(given[0]) ? d : given[0]), 'any'),
    empty: f(['any'], ([v]) => isEmpty(v)),
    coalesce: f([], (args) => args.find((a) => !isEmpty(a)) ?? null, 'any'),
    ternary: f(['any', 'any', 'bool'], ([t, e, c]) => (c ? t : e)),
    kindIs: f(['string', 'any'], ([k, v]) => kindOf(v) === k),
    kindOf: f(['any'], ([v]) => kindOf(v)),

    // Sprig: strings
    quote: f([], (args) => args.filter((a) => a !== null).map((a) => goQuote(strval(a))).join(' '), 'any'),
    squote: f([], (args) => args.filter((a) => a !== null).map((a) => `'${strval(a)}'`).join(' '), 'any'),
    toString: f(['any'], ([v]) => strval(v)),
    indent: f(['int', 'string'], ([n, s]) => {
      const p = ' '.repeat(Number(n));
      return p + (s as string).replaceAll('\n', '\n' + p);
    }),
    nindent: f(['int', 'string'], ([n, s]) => {
      const p = ' '.repeat(Number(n));
      return '\n' + p + (s as string).replaceAll('\n', '\n' + p);
    }),
    trunc: f(['int', 'string'], ([cRaw, sRaw]) => {
      const c = Number(cRaw);
      const s = sRaw as string;
      if (c < 0 && s.length + c > 0) return s.slice(s.length + c);
      if (c >= 0 && s.length > c) return s.slice(0, c);
      return s;
    }),
    trimSuffix: f(['string', 'string'], ([suf, s]) => ((s as string).endsWith(suf as string) && suf !== '' ? (s as string).slice(0, -(suf as string).length) : (s as string))),
    trimPrefix: f(['string', 'string'], ([pre, s]) => ((s as string).startsWith(pre as string) ? (s as string).slice((pre as string).length) : (s as string))),
    trim: f(['string'], ([s]) => (s as string).trim()),
    replace: f(['string', 'string', 'string'], ([o, n, s]) => (s as string).replaceAll(o as string, n as string)),
    lower: f(['string'], ([s]) => (s as string).toLowerCase()),
    upper: f(['string'], ([s]) => (s as string).toUpperCase()),
    contains: f(['string', 'string'], ([sub, s]) => (s as string).includes(sub as string)),
    hasPrefix: f(['string', 'string'], ([p, s]) => (s as string).startsWith(p as string)),
    hasSuffix: f(['string', 'string'], ([p, s]) => (s as string).endsWith(p as string)),
    join: f(['string', 'any'], ([sep, v]) => strList(v).join(sep as string)),
    splitList: f(['string', 'string'], ([sep, s]) => (s as string).split(sep as string)),
    regexMatch: f(['string', 'string'], ([re, s]) => new RegExp(re as string).test(s as string)),
    b64enc: f(['string'], ([s]) => Buffer.from(s as string, 'utf8').toString('base64')),
    sha256sum: f(['string'], ([s]) => createHash('sha256').update(s as string, 'utf8').digest('hex')),

    // Sprig: numbers (integer math returns int64)
    int: f(['any'], ([v]) => toInt64(v)),
    int64: f(['any'], ([v]) => toInt64(v)),
    float64: f(['any'], ([v]) => toFloat64(v)),
    add: f([], (args) => args.reduce<bigint>((a, b) => a + toInt64(b), 0n), 'any'),
    add1: f(['any'], ([v]) => toInt64(v) + 1n),
    sub: f(['any', 'any'], ([a, b]) => toInt64(a) - toInt64(b)),
    mul: f(['any'], ([a, ...rest]) => rest.reduce<bigint>((x, y) => x * toInt64(y), toInt64(a)), 'any'),
    div: f(['any', 'any'], ([a, b]) => {
      const d = toInt64(b);
      if (d === 0n) throw new Error('runtime error: integer divide by zero');
      return toInt64(a) / d;
    }),
    max: f(['any'], ([a, ...rest]) => rest.reduce<bigint>((x, y) => (toInt64(y) > x ? toInt64(y) : x), toInt64(a)), 'any'),
    min: f(['any'], ([a, ...rest]) => rest.reduce<bigint>((x, y) => (toInt64(y) < x ? toInt64(y) : x), toInt64(a)), 'any'),

    // Sprig: lists and dicts
    list: f([], (args) => args, 'any'),
    dict: f(
      [],
      (args) => {
        const d: GoMap = {};
        for (let i = 0; i < args.length; i += 2) d[strval(args[i])] = i + 1 < args.length ? args[i + 1] : '';
        return d;
      },
      'any',
    ),
    get: f(['map', 'string'], ([d, k]) => (d && Object.hasOwn(d as GoMap, k as string) ? (d as GoMap)[k as string] : '')),
    set: f(['map', 'string', 'any'], ([d, k, v]) => {
      (d as GoMap)[k as string] = v;
      return d;
    }),
    hasKey: f(['map', 'string'], ([d, k]) => d !== null && Object.hasOwn(d as GoMap, k as string)),
    keys: f([], (ds) => ds.flatMap((d) => Object.keys((d ?? {}) as GoMap)).sort(), 'map'),
    sortAlpha: f(['any'], ([v]) => strList(v).sort()),
    has: f(['any', 'any'], ([needle, hay]) => Array.isArray(hay) && hay.some((x) => x === needle)),
  };
}
