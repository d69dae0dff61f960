/**
 * Executes templates parsed by goTemplateParse.ts with Go text/template's rules (exec.go):
 * field chains on maps and structs, missingkey=zero (as Helm runs it), argument type checks
 * against each function's parameter types ("wrong type for value; expected int; got
 * float64"), lazy `and`/`or`, the final pipeline value passed as the last argument, variable
 * scopes per control structure, `range` over slices, maps (sorted keys) and integers, and
 * `break`/`continue`.
 */
import { parseTemplate, TemplateParseError, type Command, type Node, type Operand, type Pipeline } from './goTemplateParse.ts';
import { formatValue, GoStruct, isMap, isTrue, typeName, type GoValue } from './goValues.ts';

export type ParamType = 'any' | 'string' | 'int' | 'float64' | 'bool' | 'map' | 'list';

export interface GoFunc {
  /** Parameter types; the function is called with exactly this many arguments unless variadic. */
  params: ParamType[];
  /** Type of the trailing variadic parameter, if any. */
  variadic?: ParamType;
  fn: (args: GoValue[], ctx: CallContext) => GoValue;
}

export interface CallContext {
  /** Helm's include: runs a named template and returns its output. */
  include(name: string, data: GoValue): string;
  /** Helm's tpl: parses and runs a string as a template. */
  tpl(text: string, data: GoValue): string;
}

export class TemplateExecError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'TemplateExecError';
  }
}

class BreakSignal {}
class ContinueSignal {}

const GO_TYPE: Record<ParamType, string> = {
  any: 'interface {}',
  string: 'string',
  int: 'int',
  float64: 'float64',
  bool: 'bool',
  map: 'map[string]interface {}',
  list: '[]interface {}',
};

/** Built-in text/template functions that need the unevaluated arguments. */
const LAZY = new Set(['and', 'or']);

/** A set of templates sharing one namespace of `define`d names, like Helm's engine. */
export class TemplateSet {
  readonly templates = new Map<string, Node[]>();
  private readonly funcNames: Set<string>;
  private includeDepth = 0;

  constructor(readonly funcs: Record<string, GoFunc>) {
    this.funcNames = new Set([...Object.keys(funcs), ...LAZY]);
  }

  /** Parses a file; its body becomes template `name`, its defines join the shared set. */
  add(name: string, src: string): void {
    const parsed = parseTemplate(name, src, this.funcNames);
    this.templates.set(name, parsed.root);
    for (const [k, v] of parsed.defines) this.templates.set(k, v);
  }

  execute(name: string, data: GoValue): string {
    const nodes = this.templates.get(name);
    if (!nodes) throw new TemplateExecError(`no template ${JSON.stringify(name)} associated with template "gotpl"`);
    const out: string[] = [];
    new ExecState(this, name, [{ name: '$', value: data }]).walkList(data, nodes, out);
    return out.join('');
  }

  /** For include/tpl: bounded recursion as Helm does (it stops at 1000 nested includes). */
  nested<T>(f: () => T): T {
    if (++this.includeDepth > 1000) throw new TemplateExecError('rendering template has a nested reference name exceeding the maximum depth');
    try {
      return f();
    } finally {
      this.includeDepth--;
    }
  }

  callContext(): CallContext {
    return {
      include: (name, data) => this.nested(() => this.execute(name, data)),
      tpl: (text, data) =>
        this.nested(() => {
          const parsed = parseTemplate('tpl', text, this.funcNames);
          for (const [k, v] of parsed.defines) this.templates.set(k, v);
          const out: string[] = [];
          new ExecState(this, 'tpl', [{ name: '$', value: data }]).walkList(data, parsed.root, out);
          return out.join('');
        }),
    };
  }
}

interface Variable {
  name: string;
  value: GoValue;
}

/** Marker for "no final value" (Go's missingVal), distinct from a nil final value. */
const MISSING = Symbol('missing');
type Final = GoValue | typeof MISSING;

class ExecState {
  private line = 0;
  constructor(
    private readonly set: TemplateSet,
    private readonly name: string,
    private readonly vars: Variable[],
  ) {}

  private error(msg: string): never {
    throw new TemplateExecError(`template: ${this.name}:${this.line}: executing ${JSON.stringify(this.name)}: ${msg}`);
  }

  walkList(dot: GoValue, nodes: Node[], out: string[]): void {
    for (const n of nodes) this.walk(dot, n, out);
  }

  private walk(dot: GoValue, node: Node, out: string[]): void {
    switch (node.type) {
      case 'text':
        out.push(node.text);
        return;
      case 'action': {
        this.line = node.line;
        const v = this.evalPipeline(dot, node.pipe);
        if (node.pipe.decl.length === 0) out.push(formatValue(v));
        return;
      }
      case 'if':
      case 'with': {
        this.line = node.line;
        const mark = this.vars.length;
        const v = this.evalPipeline(dot, node.pipe);
        if (isTrue(v)) this.walkList(node.type === 'with' ? v : dot, node.list, out);
        else if (node.elseList) this.walkList(dot, node.elseList, out);
        this.vars.length = mark;
        return;
      }
      case 'range':
        this.walkRange(dot, node, out);
        return;
      case 'template': {
        this.line = node.line;
        const tmpl = this.set.templates.get(node.name);
        if (!tmpl) this.error(`template: no template ${JSON.stringify(node.name)} associated with template ${JSON.stringify(this.name)}`);
        const newDot = node.pipe ? this.evalPipeline(dot, node.pipe) : null;
        new ExecState(this.set, node.name, [{ name: '$', value: newDot }]).walkList(newDot, tmpl, out);
        return;
      }
      case 'break':
        throw new BreakSignal();
      case 'continue':
        throw new ContinueSignal();
    }
  }

  private walkRange(dot: GoValue, node: Extract<Node, { type: 'range' }>, out: string[]): void {
    this.line = node.line;
    const mark = this.vars.length;
    // The range pipeline's own declarations are the loop variables, not set from its value.
    const pipe: Pipeline = { ...node.pipe, decl: [] };
    const v = this.evalPipeline(dot, pipe);
    const decl = node.pipe.decl;
    const entries: [GoValue, GoValue][] = [];
    if (v === null) {
      // nil ranges over nothing
    } else if (Array.isArray(v)) v.forEach((e, i) => entries.push([BigInt(i), e]));
    else if (isMap(v)) for (const k of Object.keys(v).sort()) entries.push([k, v[k]]);
    else if (typeof v === 'bigint') for (let i = 0n; i < v; i++) entries.push([i, i]);
    else this.error(`range can't iterate over ${formatValue(v)}`);
    if (entries.length === 0) {
      this.vars.length = mark;
      if (node.elseList) this.walkList(dot, node.elseList, out);
      return;
    }
    for (const [k, e] of entries) {
      const iterMark = this.vars.length;
      if (decl.length === 1) this.bind(decl[0], node.pipe.isAssign, typeof v === 'bigint' ? k : e);
      if (decl.length === 2) {
        this.bind(decl[0], node.pipe.isAssign, k);
        this.bind(decl[1], node.pipe.isAssign, e);
      }
      try {
        this.walkList(e, node.list, out);
      } catch (sig) {
        if (sig instanceof BreakSignal) {
          this.vars.length = iterMark;
          break;
        }
        if (!(sig instanceof ContinueSignal)) throw sig;
      }
      this.vars.length = iterMark;
    }
    this.vars.length = mark;
  }

  private bind(name: string, assign: boolean, value: GoValue): void {
    if (assign) {
      for (let i = this.vars.length - 1; i >= 0; i--) {
        if (this.vars[i].name === name) {
          this.vars[i].value = value;
          return;
        }
      }
      this.error(`undefined variable: ${name}`);
    }
    this.vars.push({ name, value });
  }

  private lookupVar(name: string): GoValue {
    for (let i = this.vars.length - 1; i >= 0; i--) if (this.vars[i].name === name) return this.vars[i].value;
    return this.error(`undefined variable: ${name}`);
  }

  evalPipeline(dot: GoValue, pipe: Pipeline): GoValue {
    let value: Final = MISSING;
    for (const cmd of pipe.cmds) value = this.evalCommand(dot, cmd, value);
    const v = value === MISSING ? null : value;
    for (const d of pipe.decl) this.bind(d, pipe.isAssign, v);
    return v;
  }

  private notAFunction(args: Operand[], final: Final, what: string): void {
    if (args.length > 1 || final !== MISSING) this.error(`can't give argument to non-function ${what}`);
  }

  private evalCommand(dot: GoValue, cmd: Command, final: Final): GoValue {
    const first = cmd.args[0];
    switch (first.type) {
      case 'field':
        return this.evalFieldChain(dot, dot, first.names, cmd.args, final);
      case 'chain': {
        const recv = this.evalArgValue(dot, first.node);
        return this.evalFieldChain(dot, recv, first.names, cmd.args, final);
      }
      case 'variable': {
        const v = this.lookupVar(first.name);
        if (first.names.length === 0) {
          this.notAFunction(cmd.args, final, first.name);
          return v;
        }
        return this.evalFieldChain(dot, v, first.names, cmd.args, final);
      }
      case 'identifier':
        return this.evalFunction(dot, first.name, cmd.args.slice(1), final);
      case 'pipe':
        this.notAFunction(cmd.args, final, '(pipeline)');
        return this.evalPipeline(dot, first.pipe);
      case 'dot':
        this.notAFunction(cmd.args, final, '.');
        return dot;
      default:
        this.notAFunction(cmd.args, final, this.describe(first));
        return this.constantValue(first, 'any');
    }
  }

  private describe(op: Operand): string {
    switch (op.type) {
      case 'string':
        return JSON.stringify(op.value);
      case 'number':
        return op.text;
      case 'bool':
        return String(op.value);
      case 'nil':
        return 'nil';
      case 'dot':
        return '.';
      default:
        return op.type;
    }
  }

  private constantValue(op: Operand, want: ParamType): GoValue {
    switch (op.type) {
      case 'dot':
        return null; // not reached: dot is evaluated by the caller
      case 'string':
        if (want !== 'any' && want !== 'string') this.error(`expected ${GO_TYPE[want]}; found ${JSON.stringify(op.value)}`);
        return op.value;
      case 'bool':
        if (want !== 'any' && want !== 'bool') this.error(`expected ${GO_TYPE[want]}; found ${op.value}`);
        return op.value;
      case 'nil':
        if (want !== 'any' && want !== 'map' && want !== 'list') this.error(`cannot assign nil to ${GO_TYPE[want]}`);
        return null;
      case 'number': {
        if (want === 'int') {
          if (op.isInt) return op.value as bigint;
          if (Number.isInteger(op.value)) return BigInt(op.value as number);
          this.error(`expected integer; found ${op.text}`);
        }
        if (want === 'float64') return Number(op.value);
        if (want === 'any') return op.value;
        return this.error(`expected ${GO_TYPE[want]}; found ${op.text}`);
      }
      default:
        return this.error(`unexpected operand ${op.type}`);
    }
  }

  private evalArgValue(dot: GoValue, op: Operand): GoValue {
    switch (op.type) {
      case 'dot':
        return dot;
      case 'field':
        return this.evalFieldChain(dot, dot, op.names, [op], MISSING);
      case 'variable': {
        const v = this.lookupVar(op.name);
        return op.names.length ? this.evalFieldChain(dot, v, op.names, [op], MISSING) : v;
      }
      case 'chain':
        return this.evalFieldChain(dot, this.evalArgValue(dot, op.node), op.names, [op], MISSING);
      case 'pipe':
        return this.evalPipeline(dot, op.pipe);
      case 'identifier':
        return this.evalFunction(dot, op.name, [], MISSING);
      default:
        return this.constantValue(op, 'any');
    }
  }

  private evalArg(dot: GoValue, op: Operand, want: ParamType): GoValue {
    if (op.type === 'string' || op.type === 'number' || op.type === 'bool' || op.type === 'nil') return this.constantValue(op, want);
    return this.checkType(this.evalArgValue(dot, op), want);
  }

  private checkType(v: GoValue, want: ParamType): GoValue {
    const ok =
      want === 'any' ||
      (want === 'string' && typeof v === 'string') ||
      (want === 'int' && typeof v === 'bigint') ||
      (want === 'float64' && typeof v === 'number') ||
      (want === 'bool' && typeof v === 'boolean') ||
      (want === 'map' && (v === null || isMap(v))) ||
      (want === 'list' && (v === null || Array.isArray(v)));
    if (!ok) this.error(`wrong type for value; expected ${GO_TYPE[want]}; got ${typeName(v)}`);
    return v;
  }

  private evalFieldChain(dot: GoValue, receiver: GoValue, names: string[], cmdArgs: Operand[], final: Final): GoValue {
    let r = receiver;
    for (let i = 0; i < names.length; i++) {
      const last = i === names.length - 1;
      r = this.evalField(dot, names[i], r, last ? cmdArgs : [], last ? final : MISSING);
    }
    return r;
  }

  private evalField(dot: GoValue, name: string, receiver: GoValue, cmdArgs: Operand[], final: Final): GoValue {
    const hasArgs = cmdArgs.length > 1 || final !== MISSING;
    if (receiver instanceof GoStruct) {
      const method = receiver.methods[name];
      if (method) {
        const args = cmdArgs.slice(1).map((a) => this.evalArg(dot, a, 'any'));
        if (final !== MISSING) args.push(final);
        try {
          return method(...args);
        } catch (e) {
          return this.error(`error calling ${name}: ${(e as Error).message}`);
        }
      }
      if (!(name in receiver.fields)) this.error(`can't evaluate field ${name} in type ${receiver.typeName}`);
      if (hasArgs) this.error(`${name} has arguments but cannot be invoked as function`);
      return receiver.fields[name];
    }
    if (receiver === null) this.error(`nil pointer evaluating interface {}.${name}`);
    if (isMap(receiver)) {
      if (hasArgs) this.error(`${name} is not a method but has arguments`);
      return Object.hasOwn(receiver, name) ? receiver[name] : null;
    }
    return this.error(`can't evaluate field ${name} in type ${typeName(receiver)}`);
  }

  private evalFunction(dot: GoValue, name: string, argOps: Operand[], final: Final): GoValue {
    if (LAZY.has(name)) return this.evalLazy(dot, name, argOps, final);
    const f = this.set.funcs[name];
    if (!f) this.error(`${JSON.stringify(name)} is not a defined function`);
    const nArgs = argOps.length + (final !== MISSING ? 1 : 0);
    const fixed = f.params.length;
    if (f.variadic ? nArgs < fixed : nArgs !== fixed) {
      this.error(`wrong number of args for ${name}: want ${f.variadic ? `at least ${fixed}` : fixed} got ${nArgs}`);
    }
    const typeAt = (i: number): ParamType => (i < fixed ? f.params[i] : f.variadic!);
    const args = argOps.map((op, i) => this.evalArg(dot, op, typeAt(i)));
    if (final !== MISSING) args.push(this.checkType(final, typeAt(args.length)));
    try {
      return f.fn(args, this.set.callContext());
    } catch (e) {
      if (e instanceof TemplateExecError || e instanceof TemplateParseError) throw e;
      return this.error(`error calling ${name}: ${(e as Error).message}`);
    }
  }

  /** and/or: evaluate left to right, stop at the first falsy (and) or truthy (or) value. */
  private evalLazy(dot: GoValue, name: string, argOps: Operand[], final: Final): GoValue {
    const n = argOps.length + (final !== MISSING ? 1 : 0);
    if (n < 1) this.error(`wrong number of args for ${name}: want at least 1 got 0`);
    let v: GoValue = null;
    for (let i = 0; i < n; i++) {
      v = i < argOps.length ? this.evalArg(dot, argOps[i], 'any') : (final as GoValue);
      if (name === 'and' ? !isTrue(v) : isTrue(v)) return v;
    }
    return v;
  }
}
