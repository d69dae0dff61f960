/**
 * One image's prompt texts with wildcards and arrays resolved, in Fooocus' order
 * (F modules/async_worker.py `process_prompt`, per image i):
 *
 *     task_rng = random.Random(task_seed)
 *     task_prompt = apply_arrays(apply_wildcards(prompt, task_rng, i, in_order), i)
 *     task_negative_prompt = apply_wildcards(negative_prompt, task_rng, i, in_order)
 *     task_extra_positive_prompts = [apply_wildcards(p, task_rng, i, in_order) for p in extra_positive]
 *     task_extra_negative_prompts = [apply_wildcards(p, task_rng, i, in_order) for p in extra_negative]
 *     ... then "Random Style" draws from the same task_rng (core/styles/applyStyles.ts).
 *
 * The draw order is part of the result: the same seed gives the same words only if the
 * wildcards are drawn in exactly this sequence, and the caller must hand the same `rng` to the
 * style step afterwards. Arrays apply to the main prompt line only, as in Fooocus.
 */
import { applyArrays } from './arrays.ts';
import { applyWildcards, type WildcardOptions } from './wildcards.ts';

export interface ImagePromptTexts {
  /** Main prompt line (line 1, LoRA tags already taken out). */
  prompt: string;
  /** Main negative line. */
  negativePrompt: string;
  /** Prompt lines 2..n (extra positive workloads). */
  extraPositive: readonly string[];
  /** Negative lines 2..n. */
  extraNegative: readonly string[];
}

export interface ResolvedImagePrompts {
  prompt: string;
  negativePrompt: string;
  extraPositive: string[];
  extraNegative: string[];
}

export function resolveImagePrompts(texts: ImagePromptTexts, options: WildcardOptions): ResolvedImagePrompts {
  const prompt = applyArrays(applyWildcards(texts.prompt, options), options.imageIndex);
  const negativePrompt = applyWildcards(texts.negativePrompt, options);
  const extraPositive = texts.extraPositive.map((t) => applyWildcards(t, options));
  const extraNegative = texts.extraNegative.map((t) => applyWildcards(t, options));
  return { prompt, negativePrompt, extraPositive, extraNegative };
}
