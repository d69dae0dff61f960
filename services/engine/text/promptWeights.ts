/**
 * Prompt emphasis syntax, as Fooocus parses it (F `ldm_patched/modules/sd1_clip.py`,
 * `escape_important` / `parse_parentheses` / `token_weights` / `unescape_important`, which is
 * ComfyUI's parser):
 *   - `(text)` multiplies the weight of `text` by 1.1; nesting multiplies again, `((a))` → 1.21;
 *   - `(text:1.3)` sets the weight to 1.3 instead (not 1.3 × 1.1), the number being whatever
 *     follows the LAST `:` inside the parentheses, if Python's `float()` accepts it; otherwise the
 *     `:…` stays part of the text and the group gets the ×1.1;
 *   - `\(` and `\)` are literal parentheses;
 *   - unbalanced parentheses are kept as text the way the reference scanner keeps them.
 *
 * `[text]` is NOT de-emphasis. A1111 divides by 1.1 there, but Fooocus (and ComfyUI) have no such
 * rule: brackets are ordinary characters that CLIP tokenises (`[` and `]` have ids of their own).
 * Following Fooocus keeps the conditioning, and so the image, identical for the same prompt.
 *
 * Weights stay float64, as in Python (`1.1 * 1.1` is 1.2100000000000002); they are rounded to
 * float32 only when applied to hidden states (`applyTokenWeights.ts`).
 */

export interface WeightedSegment {
  /** Text with escapes resolved (`\(` → `(`), not yet split into words. */
  readonly text: string;
  readonly weight: number;
}

/** Parentheses escaped by the user, hidden from the scanner (the reference uses the same codes). */
const ESCAPED_CLOSE = '\0\u0001';
const ESCAPED_OPEN = '\0\u0002';

/** Splits a prompt into runs of text with their emphasis weight, in prompt order. */
export function parsePromptWeights(prompt: string): WeightedSegment[] {
  const escaped = prompt.replaceAll('\\)', ESCAPED_CLOSE).replaceAll('\\(', ESCAPED_OPEN);
  return tokenWeights(escaped, 1.0).map(({ text, weight }) => ({
    text: text.replaceAll(ESCAPED_CLOSE, ')').replaceAll(ESCAPED_OPEN, '('),
    weight,
  }));
}

function tokenWeights(text: string, currentWeight: number): WeightedSegment[] {
  const out: WeightedSegment[] = [];
  for (const item of parseParentheses(text)) {
    if (item.length >= 2 && item.startsWith('(') && item.endsWith(')')) {
      let inner = item.slice(1, -1);
      let weight = currentWeight * 1.1;
      const colon = inner.lastIndexOf(':');
      if (colon > 0) {
        const explicit = parsePythonFloat(inner.slice(colon + 1));
        if (explicit !== undefined) {
          weight = explicit;
          inner = inner.slice(0, colon);
        }
      }
      out.push(...tokenWeights(inner, weight));
    } else {
      out.push({ text: item, weight: currentWeight });
    }
  }
  return out;
}

/**
 * Top-level split into plain runs and balanced `( … )` groups. Mirrors the reference exactly,
 * including what it does with a stray `)`: the depth goes negative and the `)` stays in the text,
 * and a later `(` only returns the depth to zero.
 */
function parseParentheses(text: string): string[] {
  const result: string[] = [];
  let current = '';
  let depth = 0;
  for (const ch of text) {
    if (ch === '(') {
      if (depth === 0) {
        if (current) result.push(current);
        current = '(';
      } else {
        current += ch;
      }
      depth += 1;
    } else if (ch === ')') {
      depth -= 1;
      if (depth === 0) {
        result.push(current + ')');
        current = '';
      } else {
        current += ch;
      }
    } else {
      current += ch;
    }
  }
  if (current) result.push(current);
  return result;
}

// Python `float(str)` grammar: optional sign, digits with single `_` between digits, optional
// fraction and exponent, or inf / infinity / nan in any case.
const PY_DECIMAL = /^[+-]?(?:(?:\d(?:_?\d)*)?\.\d(?:_?\d)*|\d(?:_?\d)*\.?)(?:[eE][+-]?\d(?:_?\d)*)?$/;
const PY_SPECIAL = /^([+-]?)(inf|infinity|nan)$/i;
/** Characters `float()` strips around the number (Python `str.isspace()`). */
const PY_SPACE = /^[\p{White_Space}\u001c-\u001f]+|[\p{White_Space}\u001c-\u001f]+$/gu;
const NON_ASCII_DIGIT = /(?![0-9])\p{Nd}/gu;

/** The value Python's `float(s)` gives, or undefined where it raises ValueError. */
function parsePythonFloat(s: string): number | undefined {
  // float() reads any Unicode decimal digit ("１.５" is 1.5) and strips Unicode whitespace.
  const t = s.replace(NON_ASCII_DIGIT, (d) => String(decimalDigitValue(d))).replace(PY_SPACE, '');
  if (PY_DECIMAL.test(t)) return Number(t.replaceAll('_', ''));
  const special = PY_SPECIAL.exec(t);
  if (!special) return undefined;
  if (special[2].toLowerCase() === 'nan') return NaN;
  return special[1] === '-' ? -Infinity : Infinity;
}

/**
 * Value of a Unicode decimal digit (category Nd). Unicode guarantees every Nd character sits in a
 * contiguous run 0..9 in order, and adjacent runs (the mathematical digits) are whole runs of ten,
 * so the value is the distance from the start of the Nd run, modulo 10.
 */
function decimalDigitValue(digit: string): number {
  const cp = digit.codePointAt(0) as number;
  let start = cp;
  while (start > 0 && /\p{Nd}/u.test(String.fromCodePoint(start - 1))) start--;
  return (cp - start) % 10;
}
