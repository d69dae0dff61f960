/**
 * Style application for one image (Fooocus `process_prompt`, F modules/async_worker.py; rules in
 * api-contract §7.6 and pipeline.md §1.2 step 4):
 *
 *  1. "Fooocus V2" is not a template: it is removed and only switches prompt expansion on
 *     (skipped for an empty prompt). The expansion itself runs in the engine, which appends its
 *     text as the last positive workload AFTER `positiveTopK` was taken (so it never adds to the
 *     pooled vector).
 *  2. Styles apply in request order. "Random Style" is replaced by
 *     `rng.choice(<all template styles>)` with `rng = random.Random(task_seed)` — the same
 *     generator wildcards drew from first, so pass the engine's rng when wildcards ran.
 *  3. Each line of a style's positive template (with `{prompt}` replaced) is its own workload;
 *     each line of its negative template likewise.
 *  4. If no applied style contained `{prompt}`, the prompt is inserted as the FIRST positive
 *     workload. With no style at all the positive is just the prompt.
 *  5. The user's negative prompt is always its own, last, negative workload (after the style
 *     negatives); extra prompt lines (lines 2..n) follow.
 *  6. Empty strings are dropped; an empty list falls back to `[prompt]` / `[negative]`.
 *
 * Input strings are already per-image: `safeStr`'d lines with wildcards, arrays and LoRA tags
 * resolved (see `../request/promptText.ts`).
 */
import { UnrecoverableTaskError } from '../errors.ts';
import { splitlines, removeEmptyStr } from '../request/promptText.ts';
import { PythonRandom } from './pythonRandom.ts';
import { defaultStyleCatalog, FOOOCUS_EXPANSION, RANDOM_STYLE, type StyleCatalog } from './styleCatalog.ts';

export interface ApplyStylesInput {
  /** Main prompt line for this image. */
  prompt: string;
  /** Main negative line for this image. */
  negativePrompt: string;
  /** Prompt lines 2..n, each a workload. */
  extraPositive?: readonly string[];
  extraNegative?: readonly string[];
  /** The request's `style_selections` (may include "Fooocus V2" and "Random Style"). */
  styles: readonly string[];
}

export interface ApplyStylesOptions {
  /** Default: the bundled catalog. */
  catalog?: StyleCatalog;
  /** The image's `random.Random(task_seed)`, already used by wildcards. Wins over `seed`. */
  rng?: PythonRandom;
  /** The image's task seed, used to create the rng when none is given. Needed only for "Random Style". */
  seed?: bigint | string | number;
}

export interface StyledPrompt {
  /** Positive workloads, each CLIP-encoded separately. */
  positive: string[];
  /** Negative workloads. */
  negative: string[];
  /** Workloads whose pooled vectors are summed (taken before the expansion is appended). */
  positiveTopK: number;
  negativeTopK: number;
  /** Styles as applied, "Random Style" replaced by the drawn style, without "Fooocus V2". */
  styles: string[];
  /** "Fooocus V2" was selected and the prompt is not empty: the engine should expand `prompt`. */
  expansionRequested: boolean;
  /** Metadata prompt: prompt and extra lines joined by "\n" (Fooocus `log_positive_prompt`). */
  logPositivePrompt: string;
  logNegativePrompt: string;
}

export function applyStyles(input: ApplyStylesInput, options: ApplyStylesOptions = {}): StyledPrompt {
  const catalog = options.catalog ?? defaultStyleCatalog();
  const prompt = input.prompt;
  const negativePrompt = input.negativePrompt;
  const extraPositive = [...(input.extraPositive ?? [])];
  const extraNegative = [...(input.extraNegative ?? [])];

  const useExpansion = input.styles.includes(FOOOCUS_EXPANSION);
  const selected = input.styles.filter((s) => s !== FOOOCUS_EXPANSION);

  let positive: string[] = [];
  let negative: string[] = [];
  const applied: string[] = [];

  if (selected.length > 0) {
    let rng = options.rng;
    let placeholderReplaced = false;
    for (let name of selected) {
      if (name === RANDOM_STYLE) {
        rng ??= seededRng(options.seed);
        name = rng.choice(catalog.templateNames);
      }
      const template = catalog.templates.get(name);
      if (!template) throw new UnrecoverableTaskError(`Unknown style '${name}'`);
      applied.push(name);
      if (template.prompt.includes('{prompt}')) placeholderReplaced = true;
      positive.push(...splitlines(template.prompt.replaceAll('{prompt}', prompt)));
      negative.push(...splitlines(template.negativePrompt));
    }
    if (!placeholderReplaced) positive = [prompt, ...positive];
  } else {
    positive.push(prompt);
  }

  negative.push(negativePrompt);
  positive = removeEmptyStr([...positive, ...extraPositive], prompt);
  negative = removeEmptyStr([...negative, ...extraNegative], negativePrompt);

  return {
    positive,
    negative,
    positiveTopK: positive.length,
    negativeTopK: negative.length,
    styles: applied,
    expansionRequested: useExpansion && prompt !== '',
    logPositivePrompt: [prompt, ...extraPositive].join('\n'),
    logNegativePrompt: [negativePrompt, ...extraNegative].join('\n'),
  };
}

function seededRng(seed: bigint | string | number | undefined): PythonRandom {
  if (seed === undefined) {
    throw new UnrecoverableTaskError('"Random Style" needs the image seed (or its rng) to pick a style');
  }
  return new PythonRandom(BigInt(seed));
}
