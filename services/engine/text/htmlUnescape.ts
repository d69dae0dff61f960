/**
 * Python's `html.unescape`, reproduced for the CLIP text cleaner (openai/CLIP `basic_clean`
 * calls it twice).
 *
 * Same reference syntax (`&name;`, `&name` without the semicolon where HTML5 allows it, `&#65;`,
 * `&#x41;`), the same longest-prefix rule for unknown names (`&notit;` → `¬it;`), and the same
 * HTML5 repairs of bad numeric references (0x80-0x9f read as Windows-1252, surrogates and
 * out-of-range values → U+FFFD, non-characters and most controls dropped).
 *
 * The tables in `data/html5-entities.json` were exported from CPython 3.11's
 * `html.entities.html5`, `html._invalid_charrefs` and `html._invalid_codepoints` (the WHATWG
 * named character reference list); they are loaded on first use, and only for text that
 * contains an `&`, so ordinary prompts never read the file. To regenerate:
 *   python3 -c "import html, html.entities as e, json; print(json.dumps({'named': e.html5,
 *     'invalidCharrefs': {str(k): v for k, v in html._invalid_charrefs.items()},
 *     'invalidCodepoints': sorted(html._invalid_codepoints)}, ensure_ascii=True))"
 */
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const ENTITIES_FILE = fileURLToPath(new URL('./data/html5-entities.json', import.meta.url));

interface EntityTables {
  /** Name as written after `&`, including the `;` where the spec requires it → replacement. */
  readonly named: ReadonlyMap<string, string>;
  readonly invalidCharrefs: ReadonlyMap<number, string>;
  readonly invalidCodepoints: ReadonlySet<number>;
}

let tables: EntityTables | undefined;

function entityTables(): EntityTables {
  if (!tables) {
    const raw = JSON.parse(readFileSync(ENTITIES_FILE, 'utf8')) as {
      named: Record<string, string>;
      invalidCharrefs: Record<string, string>;
      invalidCodepoints: number[];
    };
    tables = {
      named: new Map(Object.entries(raw.named)),
      invalidCharrefs: new Map(Object.entries(raw.invalidCharrefs).map(([k, v]) => [Number(k), v])),
      invalidCodepoints: new Set(raw.invalidCodepoints),
    };
  }
  return tables;
}

// CPython's `html._charref`; `u` so that `{1,32}` counts code points as Python does.
const CHARREF = /&(#[0-9]+;?|#[xX][0-9a-fA-F]+;?|[^\t\n\f <&#;]{1,32};?)/gu;

/** Decodes HTML character references the way CPython's `html.unescape` does. */
export function htmlUnescape(text: string): string {
  if (!text.includes('&')) return text;
  const t = entityTables();
  return text.replace(CHARREF, (_match, ref: string) => replaceCharref(ref, t));
}

function replaceCharref(ref: string, t: EntityTables): string {
  if (ref[0] === '#') {
    const digits = ref.endsWith(';') ? ref.slice(0, -1) : ref;
    const hex = digits[1] === 'x' || digits[1] === 'X';
    // parseInt may lose precision on absurd lengths, but every such value is > 0x10FFFF anyway.
    const num = hex ? parseInt(digits.slice(2), 16) : parseInt(digits.slice(1), 10);
    const repaired = t.invalidCharrefs.get(num);
    if (repaired !== undefined) return repaired;
    if ((num >= 0xd800 && num <= 0xdfff) || num > 0x10ffff) return '\ufffd';
    if (t.invalidCodepoints.has(num)) return '';
    return String.fromCodePoint(num);
  }
  const whole = t.named.get(ref);
  if (whole !== undefined) return whole;
  // Longest known prefix of at least two code points, the rest kept verbatim.
  const cps = Array.from(ref);
  for (let x = cps.length - 1; x > 1; x--) {
    const prefix = cps.slice(0, x).join('');
    const value = t.named.get(prefix);
    if (value !== undefined) return value + cps.slice(x).join('');
  }
  return '&' + ref;
}
