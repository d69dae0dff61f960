/**
 * Prompt text rules of Fooocus' `process_prompt` (pipeline.md §1.2 steps 1–2), ported so the
 * same request yields the same CLIP workloads:
 *   - `safeStr` (F extras/expansion.py `safe_str`): collapse double spaces 16 times, strip
 *     `",. \r\n"` from both ends;
 *   - `splitlines` with Python's line boundaries (`str.splitlines`: \n \r \r\n \v \f \x1c-\x1e
 *     \x85 \u2028 \u2029, no trailing empty line);
 *   - `removeEmptyStr` (F modules/util.py `remove_empty_str`);
 *   - `<lora:name:weight>` tags (F modules/util.py `parse_lora_references_from_prompt`,
 *     `cleanup_prompt`): tags are removed from the prompt, the prompt is re-joined with ", ",
 *     found LoRAs are deduplicated against the request's and capped at 5.
 */

/** Fooocus `safe_str`. */
export function safeStr(x: string): string {
  let s = String(x);
  for (let i = 0; i < 16; i++) s = s.replaceAll('  ', ' ');
  return stripChars(s, ',. \r\n');
}

/** Python `str.strip(chars)`. */
export function stripChars(s: string, chars: string): string {
  let start = 0;
  let end = s.length;
  while (start < end && chars.includes(s[start])) start++;
  while (end > start && chars.includes(s[end - 1])) end--;
  return s.slice(start, end);
}

const LINE_BREAKS = new Set(['\n', '\r', '\v', '\f', '\x1c', '\x1d', '\x1e', '\x85', '\u2028', '\u2029']);

/** Python `str.splitlines()` (without keepends). */
export function splitlines(s: string): string[] {
  const lines: string[] = [];
  let start = 0;
  let i = 0;
  while (i < s.length) {
    const c = s[i];
    if (LINE_BREAKS.has(c)) {
      lines.push(s.slice(start, i));
      i += c === '\r' && s[i + 1] === '\n' ? 2 : 1;
      start = i;
    } else {
      i++;
    }
  }
  if (start < s.length) lines.push(s.slice(start));
  return lines;
}

/** Fooocus `remove_empty_str(items, default)`: drop "" entries; an empty result becomes `[default]` when a default is given. */
export function removeEmptyStr(items: readonly string[], defaultValue?: string): string[] {
  const kept = items.filter((x) => x !== '');
  if (kept.length === 0 && defaultValue !== undefined) return [defaultValue];
  return kept;
}

export interface PromptLines {
  /** Line 1 after `safeStr` ("" when the prompt is empty). */
  main: string;
  /** Further non-empty lines after `safeStr`, each its own workload. */
  extra: string[];
}

/** `prompts = remove_empty_str([safe_str(p) for p in prompt.splitlines()], default='')`; main = first. */
export function splitPromptLines(prompt: string): PromptLines {
  const lines = removeEmptyStr(splitlines(prompt).map(safeStr), '');
  return { main: lines[0], extra: lines.slice(1) };
}

/** `LORAS_PROMPT_PATTERN` (F modules/util.py). */
const LORA_TAG = /(<lora:([^:]+):([+-]?(?:\d+(?:\.\d*)?|\.\d+))>)/g;

export type LoraRef = readonly [name: string, weight: number];

export interface ParseLoraReferencesOptions {
  /** Maximum LoRAs in the result (`default_max_lora_number`). Default 5. */
  limit?: number;
  /**
   * Known LoRA files (relative names). A tag matches a file whose stem (name without folder and
   * last extension) equals the tag's name; unmatched tags are dropped. Unset = no file check:
   * the tag maps to `{name}.safetensors` (Fooocus' `skip_file_check`).
   */
  loraFilenames?: readonly string[];
  /** Normalise commas and spaces of the prompt (`cleanup_prompt`). Default true. */
  cleanup?: boolean;
  /** Skip tags naming a LoRA already present. Default true. */
  deduplicate?: boolean;
}

/**
 * Fooocus `parse_lora_references_from_prompt(prompt, loras)`: returns the LoRA list with the
 * prompt's tags added and the prompt without them. As in Fooocus, the prompt is cleaned up
 * (commas/spaces) even when it had no tag, and when tags were found, "None" entries are dropped
 * from the list before capping.
 */
export function parseLoraReferences(
  prompt: string,
  loras: readonly LoraRef[],
  options: ParseLoraReferencesOptions = {},
): { loras: LoraRef[]; prompt: string } {
  const limit = options.limit ?? 5;
  const deduplicate = options.deduplicate ?? true;
  const found: LoraRef[] = [];
  let withoutLoras = '';

  for (let token of prompt.split(',')) {
    const matches = [...token.matchAll(LORA_TAG)];
    if (matches.length === 0) {
      withoutLoras += token + ', ';
      continue;
    }
    for (const m of matches) {
      const file = options.loraFilenames ? fileByStem(m[2], options.loraFilenames) : `${m[2]}.safetensors`;
      if (file !== null) found.push([file, Number.parseFloat(m[3])]);
      token = token.replace(m[1], '');
    }
    withoutLoras += token + ', ';
  }

  let cleaned = withoutLoras !== '' ? withoutLoras.slice(0, -2) : '';
  if (options.cleanup ?? true) cleaned = cleanupPrompt(withoutLoras);

  const existing = loras.map((l) => l[0]);
  const added: LoraRef[] = [];
  for (const f of found) {
    if (deduplicate && (existing.includes(f[0]) || added.some((a) => a[0] === f[0] && a[1] === f[1]))) continue;
    added.push(f);
  }
  if (added.length === 0) return { loras: [...loras], prompt: cleaned };
  const updated = [...loras, ...added].filter((l) => l[0] !== 'None');
  return { loras: updated.slice(0, limit), prompt: cleaned };
}

/** Fooocus `cleanup_prompt`: squeeze spaces and commas, trim each comma-separated token, drop empty ones. */
export function cleanupPrompt(prompt: string): string {
  const squeezed = prompt.replace(/ +/g, ' ').replace(/,+/g, ',');
  const tokens: string[] = [];
  for (const token of squeezed.split(',')) {
    const t = token.trim();
    if (t !== '') tokens.push(t);
  }
  return tokens.join(', ');
}

function fileByStem(stem: string, filenames: readonly string[]): string | null {
  for (const f of filenames) {
    const base = f.split(/[\\/]/).pop() ?? f;
    const dot = base.lastIndexOf('.');
    const fileStem = dot > 0 ? base.slice(0, dot) : base;
    if (fileStem === stem) return f;
  }
  return null;
}
