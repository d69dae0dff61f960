/**
 * The style catalog: the 279 names `/v1/engines/styles` returns (api-contract §7.6), in
 * FooocusAPI's order, and the prompt templates behind 277 of them.
 *
 * Data lives in `styles.json` next to this file: one `{name, prompt, negative_prompt}` per style,
 * our own wording (templates use `{prompt}` where the style wraps the user prompt; "Fooocus
 * Enhance", "Fooocus Semi Realistic" and "Fooocus Negative" are negative-only). The two special
 * names carry `"special"` instead of a template: "Fooocus V2" (prompt expansion) and
 * "Random Style" (a template drawn per image). `special` entries are listed as legal names but
 * are not templates, exactly like Fooocus' `legal_style_names = [V2, Random] + style_keys`.
 *
 * The file is read once, synchronously, on first use (`defaultStyleCatalog()`); `loadStyleCatalog`
 * takes another path for custom catalogs and `createStyleCatalog` takes entries directly (tests).
 */
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { z } from 'zod';

export const FOOOCUS_EXPANSION = 'Fooocus V2';
export const RANDOM_STYLE = 'Random Style';

export const styleEntrySchema = z.object({
  name: z.string().min(1),
  prompt: z.string().default(''),
  negative_prompt: z.string().default(''),
  special: z.enum(['expansion', 'random']).optional(),
});
export const styleFileSchema = z.array(styleEntrySchema);
export type StyleEntry = z.output<typeof styleEntrySchema>;

export interface StyleTemplate {
  /** Positive template; contains `{prompt}` where the user prompt goes, or is empty. */
  prompt: string;
  negativePrompt: string;
}

export interface StyleCatalog {
  /** Every legal style name, in `/v1/engines/styles` order (specials included). */
  readonly names: readonly string[];
  /** Template styles in catalog order (what "Random Style" draws from). */
  readonly templateNames: readonly string[];
  readonly templates: ReadonlyMap<string, StyleTemplate>;
  has(name: string): boolean;
}

export function createStyleCatalog(entries: readonly StyleEntry[]): StyleCatalog {
  const names: string[] = [];
  const templates = new Map<string, StyleTemplate>();
  const seen = new Set<string>();
  for (const e of entries) {
    // Later duplicates override the template but keep the first position (a Python dict update).
    if (!seen.has(e.name)) {
      names.push(e.name);
      seen.add(e.name);
    }
    if (e.special === undefined) templates.set(e.name, { prompt: e.prompt, negativePrompt: e.negative_prompt });
  }
  const templateNames = names.filter((n) => templates.has(n));
  return {
    names,
    templateNames,
    templates,
    has: (name) => seen.has(name),
  };
}

/** Read and validate a styles JSON file (array of `{name, prompt?, negative_prompt?, special?}`). */
export function loadStyleCatalog(filePath: string): StyleCatalog {
  const raw: unknown = JSON.parse(readFileSync(filePath, 'utf8'));
  const parsed = styleFileSchema.safeParse(raw);
  if (!parsed.success) {
    throw new Error(`Invalid styles file ${filePath}: ${z.prettifyError(parsed.error)}`, { cause: parsed.error });
  }
  return createStyleCatalog(parsed.data);
}

export const DEFAULT_STYLES_FILE = fileURLToPath(new URL('./styles.json', import.meta.url));

let cached: StyleCatalog | undefined;

/** The bundled catalog (`styles.json`), loaded once. */
export function defaultStyleCatalog(): StyleCatalog {
  cached ??= loadStyleCatalog(DEFAULT_STYLES_FILE);
  return cached;
}

/**
 * Fooocus `normalize_key` for names read from third-party style files: `-` → space, each word
 * capitalised, then `3d`→`3D`, `Sai`→`SAI`, `Mre`→`MRE`, `(s`→`(S`.
 */
export function normalizeStyleKey(k: string): string {
  const words = k.replaceAll('-', ' ').split(' ').map((w) => w.slice(0, 1).toUpperCase() + w.slice(1).toLowerCase());
  return words
    .join(' ')
    .replaceAll('3d', '3D')
    .replaceAll('Sai', 'SAI')
    .replaceAll('Mre', 'MRE')
    .replaceAll('(s', '(S');
}
