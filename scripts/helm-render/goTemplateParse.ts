/**
 * A parser for the subset of Go's text/template language that Helm charts use.
 *
 * Why this exists: helm cannot be installed on the machines that build and test this project
 * (no Go toolchain new enough, no binary in any reachable registry), yet the chart must be
 * rendered and validated in CI. Instead of bending the chart into another format, this module
 * implements Go text/template itself, following the grammar of Go's `text/template/parse`
 * package (lex.go, parse.go): text and `{{ }}` actions, `{{-`/`-}}` trim markers, comments,
 * pipelines with `|`, variable declaration (`:=`) and assignment (`=`), parenthesised
 * pipelines with field chains, `if`/`else if`/`else`, `range` (with `else`, `break`,
 * `continue`), `with` (with `else`), `define`, `template`, and string/raw/char/number/bool/nil
 * constants. `block` and method calls on arbitrary Go types are not supported; a template
 * that uses them fails to parse, so the chart cannot drift outside what is rendered here.
 *
 * Functions are resolved at parse time, as Go does ("function %q not defined"), against the
 * names the caller passes in; so a chart that calls a Sprig function this renderer lacks
 * fails loudly instead of rendering something else.
 */

export type Node =
  | { type: 'text'; text: string }
  | { type: 'action'; pipe: Pipeline; line: number }
  | { type: 'if'; pipe: Pipeline; list: Node[]; elseList: Node[] | null; line: number }
  | { type: 'with'; pipe: Pipeline; list: Node[]; elseList: Node[] | null; line: number }
  | { type: 'range'; pipe: Pipeline; list: Node[]; elseList: Node[] | null; line: number }
  | { type: 'template'; name: string; pipe: Pipeline | null; line: number }
  | { type: 'break'; line: number }
  | { type: 'continue'; line: number };

export interface Pipeline {
  /** Variables declared (`:=`) or assigned (`=`) by this pipeline. */
  decl: string[];
  isAssign: boolean;
  cmds: Command[];
}

export interface Command {
  args: Operand[];
}

export type Operand =
  | { type: 'field'; names: string[] } // .A.B (names empty: dot)
  | { type: 'dot' }
  | { type: 'variable'; name: string; names: string[] } // $x.A.B
  | { type: 'identifier'; name: string } // a function
  | { type: 'chain'; node: Operand; names: string[] } // (pipeline).A.B
  | { type: 'pipe'; pipe: Pipeline }
  | { type: 'string'; value: string }
  | { type: 'number'; text: string; isInt: boolean; value: number | bigint }
  | { type: 'bool'; value: boolean }
  | { type: 'nil' };

export interface ParsedTemplate {
  name: string;
  root: Node[];
  /** Templates created by `{{ define }}` inside this source. */
  defines: Map<string, Node[]>;
}

export class TemplateParseError extends Error {
  constructor(templateName: string, line: number, message: string) {
    super(`template: ${templateName}:${line}: ${message}`);
    this.name = 'TemplateParseError';
  }
}

// ---------------------------------------------------------------------------------------------
// Lexer: splits the source into text and action token streams (Go's lex.go, condensed).

type TokKind =
  | 'text'
  | 'leftDelim'
  | 'rightDelim'
  | 'leftParen'
  | 'rightParen'
  | 'pipe'
  | 'declare'
  | 'assign'
  | 'comma'
  | 'field'
  | 'variable'
  | 'identifier'
  | 'keyword'
  | 'dot'
  | 'string'
  | 'rawString'
  | 'char'
  | 'number'
  | 'bool'
  | 'nil'
  | 'comment'
  | 'eof';

interface Tok {
  kind: TokKind;
  val: string;
  line: number;
  /** Whitespace precedes the token (a field chain must be written without spaces). */
  spaced?: boolean;
}

const KEYWORDS = new Set(['if', 'else', 'end', 'range', 'with', 'define', 'template', 'block', 'break', 'continue']);
const SPACE = new Set([' ', '\t', '\r', '\n']);

function lex(name: string, src: string): Tok[] {
  const toks: Tok[] = [];
  let pos = 0;
  let line = 1;
  const countLines = (s: string) => {
    for (const c of s) if (c === '\n') line++;
  };
  let trimNextText = false;
  while (pos < src.length) {
    const open = src.indexOf('{{', pos);
    let text = open < 0 ? src.slice(pos) : src.slice(pos, open);
    const textLine = line;
    countLines(text);
    // Trim markers: "{{- " trims the preceding text's trailing space, " -}}" the next text's leading space.
    const trimLeft = open >= 0 && src.startsWith('{{- ', open) || (open >= 0 && /^\{\{-[\t\r\n]/.test(src.slice(open, open + 4)));
    if (trimNextText) text = text.replace(/^[ \t\r\n]+/, '');
    if (trimLeft) text = text.replace(/[ \t\r\n]+$/, '');
    trimNextText = false;
    if (text.length > 0) toks.push({ kind: 'text', val: text, line: textLine });
    if (open < 0) break;
    pos = open + 2 + (trimLeft ? 2 : 0);
    // Comment: {{/* ... */}} possibly with trim markers, nothing else inside the delimiters.
    const afterSpace = src.slice(pos);
    if (afterSpace.startsWith('/*')) {
      const endC = src.indexOf('*/', pos);
      if (endC < 0) throw new TemplateParseError(name, line, 'unclosed comment');
      const commentText = src.slice(pos, endC + 2);
      countLines(commentText);
      pos = endC + 2;
      if (src.startsWith(' -}}', pos)) {
        pos += 4;
        trimNextText = true;
      } else if (src.startsWith('}}', pos)) {
        pos += 2;
      } else {
        throw new TemplateParseError(name, line, 'comment ends before closing delimiter');
      }
      continue;
    }
    toks.push({ kind: 'leftDelim', val: '{{', line });
    // Inside an action.
    let parenDepth = 0;
    let spaced = true;
    const push = (t: Tok) => {
      t.spaced = spaced;
      spaced = false;
      toks.push(t);
    };
    for (;;) {
      if (pos >= src.length) throw new TemplateParseError(name, line, 'unclosed action');
      if (src.startsWith(' -}}', pos) || src.startsWith('\t-}}', pos) || src.startsWith('\n-}}', pos) || src.startsWith('\r-}}', pos)) {
        if (src[pos] === '\n') line++;
        if (parenDepth) throw new TemplateParseError(name, line, 'unclosed left paren');
        pos += 4;
        trimNextText = true;
        push({ kind: 'rightDelim', val: '}}', line });
        break;
      }
      if (src.startsWith('}}', pos)) {
        if (parenDepth) throw new TemplateParseError(name, line, 'unclosed left paren');
        pos += 2;
        push({ kind: 'rightDelim', val: '}}', line });
        break;
      }
      const c = src[pos];
      if (SPACE.has(c)) {
        if (c === '\n') line++;
        pos++;
        spaced = true;
        continue;
      }
      if (c === '(') {
        parenDepth++;
        push({ kind: 'leftParen', val: c, line });
        pos++;
        continue;
      }
      if (c === ')') {
        parenDepth--;
        if (parenDepth < 0) throw new TemplateParseError(name, line, 'unexpected right paren');
        push({ kind: 'rightParen', val: c, line });
        pos++;
        continue;
      }
      if (c === '|') {
        push({ kind: 'pipe', val: c, line });
        pos++;
        continue;
      }
      if (c === ',') {
        push({ kind: 'comma', val: c, line });
        pos++;
        continue;
      }
      if (c === ':' && src[pos + 1] === '=') {
        push({ kind: 'declare', val: ':=', line });
        pos += 2;
        continue;
      }
      if (c === '=') {
        push({ kind: 'assign', val: '=', line });
        pos++;
        continue;
      }
      if (c === '"') {
        let end = pos + 1;
        while (end < src.length && src[end] !== '"') {
          if (src[end] === '\\') end++;
          if (src[end] === '\n') throw new TemplateParseError(name, line, 'unterminated quoted string');
          end++;
        }
        if (end >= src.length) throw new TemplateParseError(name, line, 'unterminated quoted string');
        push({ kind: 'string', val: src.slice(pos, end + 1), line });
        pos = end + 1;
        continue;
      }
      if (c === '`') {
        const end = src.indexOf('`', pos + 1);
        if (end < 0) throw new TemplateParseError(name, line, 'unterminated raw quoted string');
        const raw = src.slice(pos, end + 1);
        push({ kind: 'rawString', val: raw, line });
        countLines(raw);
        pos = end + 1;
        continue;
      }
      if (c === "'") {
        let end = pos + 1;
        while (end < src.length && src[end] !== "'") {
          if (src[end] === '\\') end++;
          end++;
        }
        push({ kind: 'char', val: src.slice(pos, end + 1), line });
        pos = end + 1;
        continue;
      }
      if (c === '$') {
        const m = /^\$[A-Za-z0-9_]*/.exec(src.slice(pos))!;
        push({ kind: 'variable', val: m[0], line });
        pos += m[0].length;
        continue;
      }
      if (c === '.') {
        const next = src[pos + 1];
        if (next !== undefined && /[0-9]/.test(next)) {
          const m = /^[.0-9eE+\-_xXoObBpPa-fA-F]+/.exec(src.slice(pos))!;
          push({ kind: 'number', val: m[0], line });
          pos += m[0].length;
          continue;
        }
        const m = /^\.[A-Za-z0-9_]*/.exec(src.slice(pos))!;
        push({ kind: m[0] === '.' ? 'dot' : 'field', val: m[0], line });
        pos += m[0].length;
        continue;
      }
      if (/[0-9+\-]/.test(c)) {
        const m = /^[+\-]?(0[xX][0-9a-fA-F_]+|0[bB][01_]+|0[oO][0-7_]+|[0-9_]*\.?[0-9_]*([eE][+\-]?[0-9_]+)?)/.exec(src.slice(pos));
        if (!m || m[0] === '' || m[0] === '+' || m[0] === '-') throw new TemplateParseError(name, line, `unexpected "${c}" in command`);
        push({ kind: 'number', val: m[0], line });
        pos += m[0].length;
        continue;
      }
      if (/[A-Za-z_]/.test(c)) {
        const m = /^[A-Za-z_][A-Za-z0-9_]*/.exec(src.slice(pos))!;
        const word = m[0];
        const kind: TokKind = KEYWORDS.has(word)
          ? 'keyword'
          : word === 'true' || word === 'false'
            ? 'bool'
            : word === 'nil'
              ? 'nil'
              : 'identifier';
        push({ kind, val: word, line });
        pos += word.length;
        continue;
      }
      throw new TemplateParseError(name, line, `unrecognized character in action: ${JSON.stringify(c)}`);
    }
  }
  toks.push({ kind: 'eof', val: '', line });
  return toks;
}

// ---------------------------------------------------------------------------------------------
// Constants

const SIMPLE_ESCAPES: Record<string, string> = { a: '\x07', b: '\b', f: '\f', n: '\n', r: '\r', t: '\t', v: '\v', '\\': '\\', '"': '"', "'": "'" };

/** Go's strconv.Unquote for interpreted string and rune literals. */
export function unquoteGo(lit: string): string {
  const body = lit.slice(1, -1);
  let out = '';
  for (let i = 0; i < body.length; i++) {
    const c = body[i];
    if (c !== '\\') {
      out += c;
      continue;
    }
    const e = body[++i];
    if (e in SIMPLE_ESCAPES) out += SIMPLE_ESCAPES[e];
    else if (e === 'x') {
      out += String.fromCharCode(parseInt(body.slice(i + 1, i + 3), 16));
      i += 2;
    } else if (e === 'u') {
      out += String.fromCodePoint(parseInt(body.slice(i + 1, i + 5), 16));
      i += 4;
    } else if (e === 'U') {
      out += String.fromCodePoint(parseInt(body.slice(i + 1, i + 9), 16));
      i += 8;
    } else if (/[0-7]/.test(e)) {
      out += String.fromCharCode(parseInt(body.slice(i, i + 3), 8));
      i += 2;
    } else throw new Error(`invalid escape \\${e}`);
  }
  return out;
}

function parseNumber(text: string): { isInt: boolean; value: number | bigint } {
  const clean = text.replace(/_/g, '');
  if (/^[+\-]?(0[xX][0-9a-fA-F]+|0[bB][01]+|0[oO][0-7]+|[0-9]+)$/.test(clean)) {
    const neg = clean.startsWith('-');
    let digits = clean.replace(/^[+\-]/, '');
    if (/^0[0-7]+$/.test(digits)) digits = '0o' + digits.slice(1); // Go: leading 0 is octal
    const v = BigInt(digits);
    return { isInt: true, value: neg ? -v : v };
  }
  const f = Number(clean);
  if (Number.isNaN(f)) throw new Error(`illegal number syntax: ${JSON.stringify(text)}`);
  // A float constant with an integral value is still usable as an int in Go; we keep it float
  // (the only consumers here are printing and comparisons, which Go treats as float too).
  return { isInt: false, value: f };
}

// ---------------------------------------------------------------------------------------------
// Parser

export function parseTemplate(name: string, src: string, funcs: ReadonlySet<string>): ParsedTemplate {
  const toks = lex(name, src);
  let i = 0;
  const defines = new Map<string, Node[]>();
  const peek = () => toks[i];
  const next = () => toks[i++];
  const fail = (msg: string, t: Tok = toks[Math.min(i, toks.length - 1)]): never => {
    throw new TemplateParseError(name, t.line, msg);
  };
  const expect = (kind: TokKind, context: string): Tok => {
    const t = next();
    if (t.kind !== kind) fail(`unexpected ${JSON.stringify(t.val)} in ${context}`, t);
    return t;
  };
  /** Variables in scope (Go checks them at parse time: "undefined variable"). */
  const varScopes: string[][] = [['$']];
  const varDefined = (v: string) => varScopes.some((s) => s.includes(v));

  type EndKind = 'end' | 'else' | 'eof';
  /** Parses nodes until {{end}} / {{else}} / EOF; returns which one stopped it. */
  function parseList(allowEnd: boolean): { nodes: Node[]; stop: EndKind; elseTok?: Tok } {
    const nodes: Node[] = [];
    for (;;) {
      const t = peek();
      if (t.kind === 'eof') {
        if (allowEnd) fail('unexpected EOF');
        return { nodes, stop: 'eof' };
      }
      if (t.kind === 'text') {
        next();
        nodes.push({ type: 'text', text: t.val });
        continue;
      }
      // leftDelim
      next();
      const k = peek();
      if (k.kind === 'keyword') {
        next();
        switch (k.val) {
          case 'end':
            expect('rightDelim', 'end');
            if (!allowEnd) fail('unexpected {{end}}', k);
            return { nodes, stop: 'end' };
          case 'else':
            if (!allowEnd) fail('unexpected {{else}}', k);
            return { nodes, stop: 'else', elseTok: k };
          case 'if':
          case 'with':
          case 'range':
            nodes.push(parseControl(k.val, k));
            continue;
          case 'define': {
            if (varScopes.length > 1) fail('unexpected define', k);
            const nameTok = next();
            if (nameTok.kind !== 'string' && nameTok.kind !== 'rawString') fail('define name must be a string', nameTok);
            expect('rightDelim', 'define clause');
            const saved = varScopes.splice(0, varScopes.length, ['$']);
            const body = parseList(true);
            varScopes.splice(0, varScopes.length, ...saved);
            if (body.stop !== 'end') fail('unexpected {{else}} in define', k);
            defines.set(nameTok.kind === 'string' ? unquoteGo(nameTok.val) : nameTok.val.slice(1, -1), body.nodes);
            continue;
          }
          case 'template': {
            const nameTok = next();
            if (nameTok.kind !== 'string' && nameTok.kind !== 'rawString') fail('template name must be a string', nameTok);
            let pipe: Pipeline | null = null;
            if (peek().kind !== 'rightDelim') pipe = parsePipeline('template', false);
            expect('rightDelim', 'template clause');
            nodes.push({
              type: 'template',
              name: nameTok.kind === 'string' ? unquoteGo(nameTok.val) : nameTok.val.slice(1, -1),
              pipe,
              line: k.line,
            });
            continue;
          }
          case 'break':
          case 'continue':
            expect('rightDelim', k.val);
            nodes.push({ type: k.val, line: k.line });
            continue;
          default:
            fail(`unsupported keyword ${k.val} (not in the renderer's subset)`, k);
        }
      }
      const pipe = parsePipeline('command', true);
      expect('rightDelim', 'command');
      nodes.push({ type: 'action', pipe, line: k.line });
    }
  }

  function parseControl(kind: 'if' | 'with' | 'range', kw: Tok): Node {
    varScopes.push([]);
    const pipe = parsePipeline(kind, true, kind === 'range');
    expect('rightDelim', kind);
    const body = parseList(true);
    let elseList: Node[] | null = null;
    if (body.stop === 'else') {
      // {{else if ...}} / {{else with ...}} chain into a nested control node.
      const t = peek();
      if ((kind === 'if' && t.kind === 'keyword' && t.val === 'if') || (kind === 'with' && t.kind === 'keyword' && t.val === 'with')) {
        next();
        const nested = parseControl(kind, t);
        varScopes.pop();
        return { type: kind, pipe, list: body.nodes, elseList: [nested], line: kw.line } as Node;
      }
      expect('rightDelim', 'else');
      const elseBody = parseList(true);
      if (elseBody.stop !== 'end') fail('expected end; found else', kw);
      elseList = elseBody.nodes;
    }
    varScopes.pop();
    return { type: kind, pipe, list: body.nodes, elseList, line: kw.line } as Node;
  }

  function parsePipeline(context: string, allowDecl: boolean, isRange = false): Pipeline {
    const decl: string[] = [];
    let isAssign = false;
    // Declarations: $x := / $x = / $i, $v := (range only)
    if (allowDecl && peek().kind === 'variable') {
      const save = i;
      const v1 = next();
      if (peek().kind === 'declare' || peek().kind === 'assign') {
        const op = next();
        decl.push(v1.val);
        isAssign = op.kind === 'assign';
      } else if (isRange && peek().kind === 'comma') {
        next();
        const v2 = expect('variable', 'range declaration');
        const op = next();
        if (op.kind !== 'declare' && op.kind !== 'assign') fail('expected := in range declaration', op);
        decl.push(v1.val, v2.val);
        isAssign = op.kind === 'assign';
      } else {
        i = save;
      }
    }
    if (isAssign) {
      for (const v of decl) if (!varDefined(v)) fail(`undefined variable "${v}"`);
    }
    const cmds: Command[] = [];
    for (;;) {
      const t = peek();
      if (t.kind === 'rightDelim' || t.kind === 'rightParen') break;
      cmds.push(parseCommand());
      if (peek().kind === 'pipe') {
        next();
        if (peek().kind === 'rightDelim' || peek().kind === 'rightParen') fail('missing command after |');
      }
    }
    if (cmds.length === 0) fail(`missing value for ${context}`);
    if (!isAssign) varScopes[varScopes.length - 1].push(...decl);
    return { decl, isAssign, cmds };
  }

  function parseCommand(): Command {
    const args: Operand[] = [];
    for (;;) {
      const t = peek();
      if (t.kind === 'rightDelim' || t.kind === 'rightParen' || t.kind === 'pipe') break;
      args.push(parseOperand());
    }
    if (args.length === 0) fail('empty command');
    return { args };
  }

  function parseFieldChain(): string[] {
    const names: string[] = [];
    while (peek().kind === 'field' && !peek().spaced) names.push(next().val.slice(1));
    return names;
  }

  function parseOperand(): Operand {
    const t = next();
    switch (t.kind) {
      case 'field':
        return { type: 'field', names: [t.val.slice(1), ...parseFieldChain()] };
      case 'dot':
        if (peek().kind === 'field') fail('unexpected . after term', t);
        return { type: 'dot' };
      case 'variable': {
        if (!varDefined(t.val)) fail(`undefined variable "${t.val}"`, t);
        return { type: 'variable', name: t.val, names: parseFieldChain() };
      }
      case 'identifier':
        if (!funcs.has(t.val)) fail(`function "${t.val}" not defined`, t);
        return { type: 'identifier', name: t.val };
      case 'leftParen': {
        const pipe = parsePipeline('parenthesized pipeline', false);
        expect('rightParen', 'parenthesized pipeline');
        const names = parseFieldChain();
        const node: Operand = { type: 'pipe', pipe };
        return names.length ? { type: 'chain', node, names } : node;
      }
      case 'string':
        return { type: 'string', value: unquoteGo(t.val) };
      case 'rawString':
        return { type: 'string', value: t.val.slice(1, -1).replace(/\r/g, '') };
      case 'char':
        return { type: 'number', text: t.val, isInt: true, value: BigInt(unquoteGo(t.val).codePointAt(0)!) };
      case 'number': {
        try {
          return { type: 'number', text: t.val, ...parseNumber(t.val) };
        } catch (e) {
          return fail((e as Error).message, t);
        }
      }
      case 'bool':
        return { type: 'bool', value: t.val === 'true' };
      case 'nil':
        return { type: 'nil' };
      default:
        return fail(`unexpected ${JSON.stringify(t.val)} in operand`, t);
    }
  }

  const { nodes } = parseList(false);
  return { name, root: nodes, defines };
}
