/**
 * A restricted pickle virtual machine: the opcodes of protocols 0–5 that
 * plain data needs (None, bools, ints, floats, strings, bytes, lists, tuples,
 * dicts, sets, memo, marks, frames, persistent ids) and nothing that runs
 * code on its own.
 *
 * Why not "parse and ignore": a pickle's GLOBAL/STACK_GLOBAL/INST name
 * arbitrary callables and REDUCE/NEWOBJ/OBJ/BUILD call them; that is how a
 * `.bin` downloaded from a model site runs `os.system`. Here every global is
 * looked up in a caller-supplied allow-list of *our own* safe
 * implementations (`PickleGlobals`); any other name is refused with an
 * UnsafePickleError naming the file and the global, before anything is built
 * from it. Extension codes (EXT1/2/4) and out-of-band buffers are refused
 * too. Nothing from the file is ever executed, evaluated or imported.
 *
 * Representation: Python `dict` / `OrderedDict` → `PickleDict` (a Map, keys
 * in insertion order); list → array; tuple → frozen array (`isTuple`);
 * int → number, or bigint beyond 2^53; str → string; bytes → Uint8Array.
 */
import { CheckpointError } from './engineErrors.ts';

/** A pickle named a global (or used a construct) that this reader will never execute. */
export class UnsafePickleError extends CheckpointError {
  /** `module.name` of the refused global (or the refused construct). */
  readonly global: string;
  constructor(file: string, global: string, detail?: string) {
    super(file, 'bad_header', `refused unsafe pickle global ${global}`);
    this.name = 'UnsafePickleError';
    this.global = global;
    this.message = `${file}: unsafe pickle: refused global ${global}${detail ? ` (${detail})` : ''}; only PyTorch state-dict constructs are allowed, nothing in the file was executed`;
  }
}

export type PickleKey = string | number | bigint | boolean | null;

/** Python dict or OrderedDict, keys in insertion order. */
export class PickleDict extends Map<PickleKey, PickleValue> {
  /** Attributes set by BUILD (torch puts `_metadata` on state-dict OrderedDicts). */
  attributes: Map<string, PickleValue> = new Map();
  constructor(readonly pyClass: 'dict' | 'OrderedDict' = 'dict') {
    super();
  }
}

/** A name the allow-list resolved: pushed by GLOBAL, called by REDUCE/NEWOBJ/OBJ. */
export class PickleGlobal {
  constructor(
    readonly module: string,
    readonly name: string,
    /** Our implementation; undefined for markers that are never called (storage types). */
    readonly call?: (args: readonly PickleValue[]) => PickleValue,
  ) {}

  get qualified(): string {
    return `${this.module}.${this.name}`;
  }
}

/** Anything else an allow-listed implementation returns (tensors, storages). */
export interface PickleObject {
  readonly pickleKind: string;
}

export type PickleValue =
  | null
  | boolean
  | number
  | bigint
  | string
  | Uint8Array
  | PickleValue[]
  | readonly PickleValue[]
  | PickleDict
  | Set<PickleKey>
  | PickleGlobal
  | PickleObject;

export function isTuple(v: unknown): v is readonly PickleValue[] {
  return Array.isArray(v) && Object.isFrozen(v);
}

export interface UnpickleOptions {
  /** File named in errors. */
  file: string;
  /** `module.name` → implementation; anything absent is refused. */
  globals: ReadonlyMap<string, PickleGlobal>;
  /** Resolves PERSID/BINPERSID ids (torch storages); absent → persistent ids are refused. */
  persistentLoad?: (pid: PickleValue) => PickleValue;
  /** Byte offset to start at (legacy torch files hold several pickles back to back). Default 0. */
  offset?: number;
}

export interface UnpickleResult {
  value: PickleValue;
  /** Offset just past the STOP opcode. */
  end: number;
}

const MARK = Symbol('mark');
type StackItem = PickleValue | typeof MARK;

const textDecoder = new TextDecoder('utf-8', { fatal: true });

/** Runs one pickle (up to its STOP) under the allow-list. */
export function unpickle(data: Uint8Array, opts: UnpickleOptions): UnpickleResult {
  const { file } = opts;
  const view = new DataView(data.buffer, data.byteOffset, data.byteLength);
  let pos = opts.offset ?? 0;
  const stack: StackItem[] = [];
  const marks: number[] = [];
  const memo = new Map<number, PickleValue>();

  const bad = (detail: string) => new CheckpointError(file, 'bad_header', `pickle: ${detail}`);
  const need = (n: number) => {
    if (pos + n > data.length) throw new CheckpointError(file, 'truncated', `pickle data ends at byte ${data.length}, needed ${pos + n}`);
  };
  const u8 = () => {
    need(1);
    return data[pos++];
  };
  const u16 = () => {
    need(2);
    const v = view.getUint16(pos, true);
    pos += 2;
    return v;
  };
  const u32 = () => {
    need(4);
    const v = view.getUint32(pos, true);
    pos += 4;
    return v;
  };
  const u64 = () => {
    need(8);
    const v = view.getBigUint64(pos, true);
    pos += 8;
    if (v > BigInt(data.length)) throw new CheckpointError(file, 'truncated', `pickle length ${v} runs past the data`);
    return Number(v);
  };
  const bytes = (n: number) => {
    need(n);
    const b = data.subarray(pos, pos + n);
    pos += n;
    return b;
  };
  const line = () => {
    const end = data.indexOf(0x0a, pos);
    if (end < 0) throw new CheckpointError(file, 'truncated', 'pickle text argument has no newline');
    const s = latin1(data.subarray(pos, end));
    pos = end + 1;
    return s;
  };
  const utf8 = (b: Uint8Array) => {
    try {
      return textDecoder.decode(b);
    } catch {
      throw bad('string is not valid UTF-8');
    }
  };
  const pop = (): PickleValue => {
    if (stack.length === 0 || (marks.length && stack.length <= marks[marks.length - 1])) throw bad(`stack underflow at byte ${pos}`);
    const v = stack.pop()!;
    return v as PickleValue;
  };
  const top = (): PickleValue => {
    if (stack.length === 0) throw bad(`stack underflow at byte ${pos}`);
    return stack[stack.length - 1] as PickleValue;
  };
  const popMark = (): PickleValue[] => {
    const m = marks.pop();
    if (m === undefined) throw bad(`no MARK before byte ${pos}`);
    const items = stack.splice(m) as PickleValue[];
    return items;
  };
  const push = (v: PickleValue) => stack.push(v);
  const resolveGlobal = (module: string, name: string): PickleGlobal => {
    const g = opts.globals.get(`${module}.${name}`);
    if (!g) throw new UnsafePickleError(file, `${module}.${name}`);
    return g;
  };
  const call = (fn: PickleValue, args: PickleValue, how: string): PickleValue => {
    if (!(fn instanceof PickleGlobal)) throw bad(`${how} on a ${describe(fn)}, not an allowed callable`);
    if (!fn.call) throw new UnsafePickleError(file, fn.qualified, `${how} of a marker type`);
    if (!Array.isArray(args)) throw bad(`${how} arguments are a ${describe(args)}, not a tuple`);
    return fn.call(args);
  };
  const setItem = (d: PickleValue, k: PickleValue, v: PickleValue) => {
    if (!(d instanceof PickleDict)) throw bad(`SETITEM on a ${describe(d)}`);
    d.set(asKey(k, file), v);
  };

  for (;;) {
    const opAt = pos;
    const op = u8();
    switch (op) {
      case 0x80: { // PROTO
        const proto = u8();
        if (proto > 5) throw bad(`pickle protocol ${proto} is newer than 5`);
        break;
      }
      case 0x95: // FRAME: a length hint only
        u64();
        break;
      case 0x2e: { // STOP
        const value = pop();
        return { value, end: pos };
      }
      case 0x28: // MARK
        marks.push(stack.length);
        break;
      case 0x30: // POP
        if (stack.length && marks.length && marks[marks.length - 1] === stack.length) marks.pop();
        else pop();
        break;
      case 0x31: // POP_MARK
        popMark();
        break;
      case 0x32: // DUP
        push(top());
        break;
      // ---- constants and numbers
      case 0x4e: push(null); break; // NONE
      case 0x88: push(true); break; // NEWTRUE
      case 0x89: push(false); break; // NEWFALSE
      case 0x4a: { // BININT
        need(4);
        push(view.getInt32(pos, true));
        pos += 4;
        break;
      }
      case 0x4b: push(u8()); break; // BININT1
      case 0x4d: push(u16()); break; // BININT2
      case 0x49: { // INT (text); protocol 0 spells bools as 01/00
        const s = line().trim();
        if (s === '01') push(true);
        else if (s === '00') push(false);
        else push(parseIntText(s, file));
        break;
      }
      case 0x4c: push(parseIntText(line().trim().replace(/L$/, ''), file)); break; // LONG (text)
      case 0x8a: push(longFromBytes(bytes(u8()))); break; // LONG1
      case 0x8b: push(longFromBytes(bytes(u32()))); break; // LONG4
      case 0x47: { // BINFLOAT (big-endian double)
        need(8);
        push(view.getFloat64(pos, false));
        pos += 8;
        break;
      }
      case 0x46: { // FLOAT (text)
        const v = Number(line().trim());
        if (Number.isNaN(v)) throw bad('malformed FLOAT');
        push(v);
        break;
      }
      // ---- strings and bytes
      case 0x58: push(utf8(bytes(u32()))); break; // BINUNICODE
      case 0x8c: push(utf8(bytes(u8()))); break; // SHORT_BINUNICODE
      case 0x8d: push(utf8(bytes(u64()))); break; // BINUNICODE8
      case 0x56: push(rawUnicodeEscape(line())); break; // UNICODE (text)
      case 0x54: { // BINSTRING (Python 2 str, read as latin-1 text)
        need(4);
        const n = view.getInt32(pos, true);
        pos += 4;
        if (n < 0) throw bad('negative BINSTRING length');
        push(latin1(bytes(n)));
        break;
      }
      case 0x55: push(latin1(bytes(u8()))); break; // SHORT_BINSTRING
      case 0x53: push(pythonStringLiteral(line(), file)); break; // STRING (text repr)
      case 0x42: push(Uint8Array.from(bytes(u32()))); break; // BINBYTES
      case 0x43: push(Uint8Array.from(bytes(u8()))); break; // SHORT_BINBYTES
      case 0x8e: push(Uint8Array.from(bytes(u64()))); break; // BINBYTES8
      case 0x96: push(Uint8Array.from(bytes(u64()))); break; // BYTEARRAY8
      // ---- containers
      case 0x5d: push([]); break; // EMPTY_LIST
      case 0x29: push(Object.freeze([])); break; // EMPTY_TUPLE
      case 0x7d: push(new PickleDict()); break; // EMPTY_DICT
      case 0x8f: push(new Set<PickleKey>()); break; // EMPTY_SET
      case 0x6c: push(popMark()); break; // LIST
      case 0x74: push(Object.freeze(popMark())); break; // TUPLE
      case 0x85: push(Object.freeze([pop()])); break; // TUPLE1
      case 0x86: { // TUPLE2
        const b = pop();
        const a = pop();
        push(Object.freeze([a, b]));
        break;
      }
      case 0x87: { // TUPLE3
        const c = pop();
        const b = pop();
        const a = pop();
        push(Object.freeze([a, b, c]));
        break;
      }
      case 0x64: { // DICT
        const items = popMark();
        const d = new PickleDict();
        for (let i = 0; i + 1 < items.length; i += 2) d.set(asKey(items[i], file), items[i + 1]);
        push(d);
        break;
      }
      case 0x91: { // FROZENSET
        const s = new Set<PickleKey>(popMark().map((k) => asKey(k, file)));
        push(s);
        break;
      }
      case 0x61: { // APPEND
        const v = pop();
        const list = top();
        if (!Array.isArray(list) || Object.isFrozen(list)) throw bad(`APPEND to a ${describe(list)}`);
        (list as PickleValue[]).push(v);
        break;
      }
      case 0x65: { // APPENDS
        const items = popMark();
        const list = top();
        if (!Array.isArray(list) || Object.isFrozen(list)) throw bad(`APPENDS to a ${describe(list)}`);
        (list as PickleValue[]).push(...items);
        break;
      }
      case 0x73: { // SETITEM
        const v = pop();
        const k = pop();
        setItem(top(), k, v);
        break;
      }
      case 0x75: { // SETITEMS
        const items = popMark();
        const d = top();
        for (let i = 0; i + 1 < items.length; i += 2) setItem(d, items[i], items[i + 1]);
        break;
      }
      case 0x90: { // ADDITEMS
        const items = popMark();
        const s = top();
        if (!(s instanceof Set)) throw bad(`ADDITEMS to a ${describe(s)}`);
        for (const k of items) s.add(asKey(k, file));
        break;
      }
      // ---- memo
      case 0x70: memo.set(parseIntText(line().trim(), file) as number, top()); break; // PUT
      case 0x71: memo.set(u8(), top()); break; // BINPUT
      case 0x72: memo.set(u32(), top()); break; // LONG_BINPUT
      case 0x94: memo.set(memo.size, top()); break; // MEMOIZE
      case 0x67: push(memoGet(memo, parseIntText(line().trim(), file) as number, file)); break; // GET
      case 0x68: push(memoGet(memo, u8(), file)); break; // BINGET
      case 0x6a: push(memoGet(memo, u32(), file)); break; // LONG_BINGET
      // ---- globals and calls: only the allow-list
      case 0x63: { // GLOBAL "module\nname\n"
        const module = line();
        const name = line();
        push(resolveGlobal(module, name));
        break;
      }
      case 0x93: { // STACK_GLOBAL
        const name = pop();
        const module = pop();
        if (typeof module !== 'string' || typeof name !== 'string') throw bad('STACK_GLOBAL operands are not strings');
        push(resolveGlobal(module, name));
        break;
      }
      case 0x69: { // INST "module\nname\n" with MARKed args
        const module = line();
        const name = line();
        const g = resolveGlobal(module, name);
        push(call(g, popMark(), 'INST'));
        break;
      }
      case 0x6f: { // OBJ: MARK cls args...
        const items = popMark();
        if (items.length === 0) throw bad('OBJ without a class');
        push(call(items[0], items.slice(1), 'OBJ'));
        break;
      }
      case 0x52: { // REDUCE
        const args = pop();
        const fn = pop();
        push(call(fn, args, 'REDUCE'));
        break;
      }
      case 0x81: { // NEWOBJ: cls.__new__(cls, *args)
        const args = pop();
        const cls = pop();
        push(call(cls, args, 'NEWOBJ'));
        break;
      }
      case 0x92: { // NEWOBJ_EX: keyword arguments are never needed by a state dict
        const kwargs = pop();
        const args = pop();
        const cls = pop();
        if (!(kwargs instanceof PickleDict) || kwargs.size > 0) throw bad('NEWOBJ_EX with keyword arguments');
        push(call(cls, args, 'NEWOBJ_EX'));
        break;
      }
      case 0x62: { // BUILD: only attribute dicts on our own dicts
        const state = pop();
        const obj = top();
        applyBuild(obj, state, file);
        break;
      }
      case 0x50: // PERSID (text id)
      case 0x51: { // BINPERSID
        const pid = op === 0x50 ? line() : pop();
        if (!opts.persistentLoad) throw new UnsafePickleError(file, 'persistent id', 'this pickle kind has no persistent objects');
        push(opts.persistentLoad(pid));
        break;
      }
      case 0x82: case 0x83: case 0x84: // EXT1/2/4: the copyreg extension registry names arbitrary callables
        throw new UnsafePickleError(file, `copyreg extension ${op === 0x82 ? u8() : op === 0x83 ? u16() : u32()}`);
      case 0x97: case 0x98: // NEXT_BUFFER / READONLY_BUFFER
        throw new UnsafePickleError(file, 'out-of-band buffer');
      default:
        throw bad(`unsupported opcode 0x${op.toString(16).padStart(2, '0')} at byte ${opAt}`);
    }
  }
}

function applyBuild(obj: PickleValue, state: PickleValue, file: string): void {
  if (!(obj instanceof PickleDict)) {
    throw new CheckpointError(file, 'bad_header', `pickle: BUILD on a ${describe(obj)} is not supported`);
  }
  // state is a dict, or (dict | None, slot dict | None).
  const parts = isTuple(state) && state.length === 2 ? state : [state];
  for (const part of parts) {
    if (part === null) continue;
    if (!(part instanceof PickleDict)) throw new CheckpointError(file, 'bad_header', `pickle: BUILD state is a ${describe(part)}`);
    for (const [k, v] of part) obj.attributes.set(String(k), v);
  }
}

function memoGet(memo: Map<number, PickleValue>, key: number, file: string): PickleValue {
  if (!memo.has(key)) throw new CheckpointError(file, 'bad_header', `pickle: memo key ${key} was never stored`);
  return memo.get(key)!;
}

function asKey(k: PickleValue, file: string): PickleKey {
  if (k === null || typeof k === 'string' || typeof k === 'number' || typeof k === 'bigint' || typeof k === 'boolean') return k;
  throw new CheckpointError(file, 'bad_header', `pickle: a ${describe(k)} as dictionary key is not supported`);
}

export function describe(v: PickleValue | undefined): string {
  if (v === null) return 'None';
  if (v === undefined) return 'nothing';
  if (isTuple(v)) return 'tuple';
  if (Array.isArray(v)) return 'list';
  if (v instanceof Uint8Array) return 'bytes';
  if (v instanceof PickleDict) return v.pyClass;
  if (v instanceof Set) return 'set';
  if (v instanceof PickleGlobal) return v.qualified;
  if (typeof v === 'object') return (v as PickleObject).pickleKind;
  return typeof v;
}

function latin1(b: Uint8Array): string {
  let s = '';
  for (let i = 0; i < b.length; i += 8192) s += String.fromCharCode(...b.subarray(i, i + 8192));
  return s;
}

function parseIntText(s: string, file: string): number | bigint {
  if (!/^[-+]?\d+$/.test(s)) throw new CheckpointError(file, 'bad_header', `pickle: malformed integer ${JSON.stringify(s.slice(0, 40))}`);
  const b = BigInt(s);
  return b >= BigInt(Number.MIN_SAFE_INTEGER) && b <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(b) : b;
}

/** Little-endian two's complement (LONG1/LONG4). */
function longFromBytes(b: Uint8Array): number | bigint {
  if (b.length === 0) return 0;
  let v = 0n;
  for (let i = b.length - 1; i >= 0; i--) v = (v << 8n) | BigInt(b[i]);
  if (b[b.length - 1] & 0x80) v -= 1n << BigInt(8 * b.length);
  return v >= BigInt(Number.MIN_SAFE_INTEGER) && v <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(v) : v;
}

/** Python's raw-unicode-escape: latin-1 with \uXXXX and \UXXXXXXXX escapes. */
function rawUnicodeEscape(s: string): string {
  return s.replace(/\\u([0-9a-fA-F]{4})|\\U([0-9a-fA-F]{8})/g, (_, a: string | undefined, b: string | undefined) => String.fromCodePoint(parseInt(a ?? b!, 16)));
}

/** A protocol-0 STRING argument: a quoted Python 2 str literal with the usual escapes. */
function pythonStringLiteral(s: string, file: string): string {
  const q = s[0];
  if ((q !== "'" && q !== '"') || s[s.length - 1] !== q || s.length < 2) {
    throw new CheckpointError(file, 'bad_header', 'pickle: STRING argument is not quoted');
  }
  const body = s.slice(1, -1);
  const simple: Record<string, string> = { n: '\n', r: '\r', t: '\t', '\\': '\\', "'": "'", '"': '"', a: '\x07', b: '\b', f: '\f', v: '\v', '0': '\0' };
  return body.replace(/\\(x[0-9a-fA-F]{2}|[0-7]{1,3}|.)/g, (_, e: string) => {
    if (e[0] === 'x') return String.fromCharCode(parseInt(e.slice(1), 16));
    if (/^[0-7]+$/.test(e) && e !== '0') return String.fromCharCode(parseInt(e, 8));
    return simple[e] ?? `\\${e}`;
  });
}
