/**
 * Fooocus V2 prompt expansion (F `extras/expansion.py`, pipeline.md §1.3):
 * a GPT-2 continues the prompt with words from a fixed list, sampled.
 *
 *   text  = safe_str(prompt) + ','           (tokenized, no BOS)
 *   n     = its token count; budget = 75·ceil(n/75) − n new tokens
 *           (0 → the prompt comes back as safe_str(prompt); '' → '')
 *   each step, on the last position's logits:
 *     scores + bias', bias' = bias with every id already in the sequence set
 *     to −8192 and id 11 (',') set to 0; bias = −8192 except the vocabulary
 *     entries 'Ġ' + word.lower() of positive.txt's non-empty lines (0);
 *     then HF top-k 100 (scores below the 100th largest → −inf, ties kept),
 *     softmax, one multinomial draw.
 *   result = safe_str(decode(prompt tokens + new tokens)).
 * EOS (50256) is never in the list, so generation always runs the whole
 * budget; the KV cache makes each step one token through the graph.
 *
 * Sampling cannot reproduce Fooocus's words for a seed: Fooocus draws with
 * torch's RNG (`transformers.set_seed(seed % 2^32)`, usually on CUDA) after
 * fp16 logits. Here the draw uses xoshiro128** seeded from the same
 * `seed % 2^32` (splitmix32 expansion), so a seed still gives one fixed
 * expansion, stable across runs, machines and execution providers up to
 * logit rounding. The deterministic parts (tokens, logits, processor, top-k
 * distribution, greedy loop) are checked against the golden set.
 *
 * `safeStr` is re-implemented here on purpose: the engine imports nothing
 * from core (core has its own copy for process_prompt).
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { CheckpointError } from '../io/engineErrors.ts';
import type { ComputeType } from '../onnx/graphBuilder.ts';
import { LoadedGpt2 } from '../runtime/loadedGpt2.ts';
import type { SessionOptions } from '../runtime/onnxSession.ts';
import { Gpt2Tokenizer } from './gpt2Tokenizer.ts';

/** Fooocus's `neg_inf`. */
export const EXPANSION_NEG_INF = -8192;
/** The token id Fooocus always allows (',' in GPT-2's vocabulary). */
export const EXPANSION_COMMA_ID = 11;
export const EXPANSION_TOP_K = 100;
/** Fooocus pads expansions to whole CLIP chunks of 75 tokens. */
const CHUNK = 75;

/** The files Fooocus's expansion folder must hold (`models/prompt_expansion/fooocus_expansion`). */
export const EXPANSION_FILES = {
  config: 'config.json',
  /** The first that exists is used. */
  weights: ['pytorch_model.bin', 'model.safetensors'],
  vocab: 'vocab.json',
  merges: 'merges.txt',
  positive: 'positive.txt',
} as const;

/** The expansion folder lacks files; `missing` lists them so the worker can tell the user what to put where. */
export class ExpansionFolderError extends CheckpointError {
  constructor(
    readonly folder: string,
    readonly missing: readonly string[],
  ) {
    super(folder, 'not_found', `the Fooocus V2 prompt expansion folder lacks ${missing.join(', ')}`);
    this.name = 'ExpansionFolderError';
    this.message = `${folder}: the Fooocus V2 prompt expansion folder lacks ${missing.join(', ')}; copy Fooocus's models/prompt_expansion/fooocus_expansion folder there`;
  }
}

export interface ExpansionFolder {
  folder: string;
  config: string;
  weights: string;
  vocab: string;
  merges: string;
  positive: string;
}

/** Paths of every file the expansion needs; ExpansionFolderError naming all missing ones. */
export function checkExpansionFolder(folder: string): ExpansionFolder {
  const at = (name: string) => join(folder, name);
  const missing: string[] = [];
  const need = (name: string) => {
    if (!existsSync(at(name))) missing.push(name);
    return at(name);
  };
  const config = need(EXPANSION_FILES.config);
  const weightsName = EXPANSION_FILES.weights.find((w) => existsSync(at(w)));
  if (!weightsName) missing.push(EXPANSION_FILES.weights.join(' (or ') + ')');
  const vocab = need(EXPANSION_FILES.vocab);
  const merges = need(EXPANSION_FILES.merges);
  const positive = need(EXPANSION_FILES.positive);
  if (missing.length) throw new ExpansionFolderError(folder, missing);
  return { folder, config, weights: at(weightsName!), vocab, merges, positive };
}

/** Fooocus `safe_str`: collapse double spaces 16 times, strip `",. \r\n"` at both ends. */
export function safeStr(x: string): string {
  let s = String(x);
  for (let i = 0; i < 16; i++) s = s.replaceAll('  ', ' ');
  let start = 0;
  let end = s.length;
  const strip = ',. \r\n';
  while (start < end && strip.includes(s[start])) start++;
  while (end > start && strip.includes(s[end - 1])) end--;
  return s.slice(start, end);
}

/** `max_new_tokens`: up to the next multiple of 75 tokens. */
export function expansionBudget(promptTokens: number): number {
  return CHUNK * Math.ceil(promptTokens / CHUNK) - promptTokens;
}

/** Python `str.splitlines()` (positive.txt is read that way). */
function splitlines(s: string): string[] {
  const lines = s.split(/\r\n|[\n\r\v\f\x1c-\x1e\x85\u2028\u2029]/);
  if (lines.length && lines[lines.length - 1] === '') lines.pop();
  return lines;
}

export interface ExpansionVocabulary {
  /** [vocab] float32: 0 for allowed words, −8192 elsewhere. */
  bias: Float32Array;
  /** Ids with bias 0, ascending. */
  positiveIds: number[];
}

/** Fooocus's `logits_bias` from positive.txt's text: literal `'Ġ' + word.lower()` vocabulary entries only. */
export function expansionVocabulary(tokenizer: Gpt2Tokenizer, positiveText: string, vocabSize: number): ExpansionVocabulary {
  const bias = new Float32Array(vocabSize).fill(EXPANSION_NEG_INF);
  const ids = new Set<number>();
  for (const word of splitlines(positiveText)) {
    if (word === '') continue;
    const id = tokenizer.tokenToId(`Ġ${word.toLowerCase()}`);
    if (id !== undefined && id < vocabSize) ids.add(id);
  }
  const positiveIds = [...ids].sort((a, b) => a - b);
  for (const id of positiveIds) bias[id] = 0;
  return { bias, positiveIds };
}

/** Fooocus's `logits_processor` on one row of scores: scores + bias, seen ids → −8192, ',' → 0. */
export function processExpansionScores(scores: Float32Array, bias: Float32Array, seen: Iterable<number>): Float32Array {
  const b = Float32Array.from(bias);
  for (const id of seen) b[id] = EXPANSION_NEG_INF;
  b[EXPANSION_COMMA_ID] = 0;
  const out = new Float32Array(scores.length);
  for (let i = 0; i < scores.length; i++) out[i] = scores[i] + b[i];
  return out;
}

export interface TopKDistribution {
  /** Kept ids, by descending score (ties by ascending id). */
  ids: number[];
  /** Softmax over the kept scores (HF `TopKLogitsWarper` then softmax: the rest have −inf, probability 0). */
  probs: Float64Array;
}

/** HF top-k: every score ≥ the k-th largest is kept (ties at the threshold included), then softmax. */
export function topKDistribution(scores: Float32Array, k: number): TopKDistribution {
  const threshold = kthLargest(scores, Math.min(k, scores.length));
  const ids: number[] = [];
  for (let i = 0; i < scores.length; i++) if (scores[i] >= threshold) ids.push(i);
  ids.sort((a, b) => scores[b] - scores[a] || a - b);
  const n = ids.length;
  const max = scores[ids[0]];
  const probs = new Float64Array(n);
  let sum = 0;
  for (let i = 0; i < n; i++) sum += probs[i] = Math.exp(scores[ids[i]] - max);
  for (let i = 0; i < n; i++) probs[i] /= sum;
  return { ids, probs };
}

/**
 * The k-th largest value: a size-k min-heap over one pass, so almost every
 * score costs one comparison with the heap's root (a full sort of GPT-2's
 * 50257 scores cost ~20 ms per generated token).
 */
function kthLargest(scores: Float32Array, k: number): number {
  const heap = Float32Array.from(scores.subarray(0, k));
  const siftDown = (i: number) => {
    for (;;) {
      const l = 2 * i + 1;
      const r = l + 1;
      let m = i;
      if (l < k && heap[l] < heap[m]) m = l;
      if (r < k && heap[r] < heap[m]) m = r;
      if (m === i) return;
      const t = heap[i];
      heap[i] = heap[m];
      heap[m] = t;
      i = m;
    }
  };
  for (let i = (k >> 1) - 1; i >= 0; i--) siftDown(i);
  for (let i = k; i < scores.length; i++) {
    if (scores[i] > heap[0]) {
      heap[0] = scores[i];
      siftDown(0);
    }
  }
  return heap[0];
}

/** One multinomial draw: the first id whose cumulative probability exceeds `u` ∈ [0,1). */
export function drawFrom(d: TopKDistribution, u: number): number {
  let acc = 0;
  for (let i = 0; i < d.ids.length; i++) {
    acc += d.probs[i];
    if (u < acc) return d.ids[i];
  }
  // Rounding left the total a hair under 1: take the last id with any probability.
  for (let i = d.ids.length - 1; i >= 0; i--) if (d.probs[i] > 0) return d.ids[i];
  return d.ids[0];
}

/** xoshiro128** seeded by splitmix32 from a 32-bit seed; uniforms in [0,1) with 32 bits. */
export function seededUniform(seed32: number): () => number {
  let x = seed32 >>> 0;
  const splitmix = () => {
    x = (x + 0x9e3779b9) >>> 0;
    let z = x;
    z = Math.imul(z ^ (z >>> 16), 0x85ebca6b) >>> 0;
    z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35) >>> 0;
    return (z ^ (z >>> 16)) >>> 0;
  };
  const s = new Uint32Array([splitmix(), splitmix(), splitmix(), splitmix()]);
  return () => {
    const result = Math.imul(rotl(Math.imul(s[1], 5) >>> 0, 7), 9) >>> 0;
    const t = (s[1] << 9) >>> 0;
    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = rotl(s[3], 11);
    return result / 2 ** 32;
  };
}

function rotl(v: number, k: number): number {
  return ((v << k) | (v >>> (32 - k))) >>> 0;
}

/** Fooocus `seed % 2**32` with Python's non-negative modulo. */
export function expansionSeed(seed: number | bigint): number {
  const m = BigInt.asUintN(32, BigInt(seed));
  return Number(m);
}

export interface LoadExpansionOptions {
  /** Where the converted weights and the graph are cached. */
  cacheDir: string;
  /** Default 'float32'. */
  compute?: ComputeType;
  session: SessionOptions;
}

export interface ExpandOptions {
  /** Checked between tokens. */
  signal?: AbortSignal;
  /** 'sample' (Fooocus) or 'greedy' (argmax, deterministic; the golden set's check). Default 'sample'. */
  pick?: 'sample' | 'greedy';
}

export interface GeneratedTokens {
  /** The new tokens only. */
  ids: number[];
}

export class PromptExpansion {
  private constructor(
    readonly folder: string,
    readonly tokenizer: Gpt2Tokenizer,
    readonly vocabulary: ExpansionVocabulary,
    readonly model: LoadedGpt2,
  ) {}

  static async load(folder: string, opts: LoadExpansionOptions): Promise<PromptExpansion> {
    const files = checkExpansionFolder(folder);
    const tokenizer = Gpt2Tokenizer.fromFiles({ vocabPath: files.vocab, mergesPath: files.merges });
    const model = await LoadedGpt2.load({ weightsPath: files.weights, configPath: files.config, cacheDir: opts.cacheDir, compute: opts.compute, session: opts.session });
    const vocabulary = expansionVocabulary(tokenizer, readFileSync(files.positive, 'utf8'), model.config.vocab);
    return new PromptExpansion(folder, tokenizer, vocabulary, model);
  }

  /** Fooocus `FooocusExpansion.__call__(prompt, seed)`. */
  async expand(prompt: string, seed: number | bigint, opts: ExpandOptions = {}): Promise<string> {
    if (prompt === '') return '';
    const text = `${safeStr(prompt)},`;
    const ids = this.tokenizer.encode(text);
    const budget = expansionBudget(ids.length);
    if (budget === 0) return text.slice(0, -1);
    const uniform = seededUniform(expansionSeed(seed));
    const pick = opts.pick === 'greedy' ? (d: TopKDistribution) => d.ids[0] : (d: TopKDistribution) => drawFrom(d, uniform());
    const generated = await this.generate(ids, budget, pick, opts.signal);
    return safeStr(this.tokenizer.decode([...ids, ...generated.ids]));
  }

  /**
   * The generation loop: `budget` tokens after `ids`, each picked from the
   * processed top-k distribution of the last position (KV cache: the prompt
   * runs once, then one token per step).
   */
  async generate(ids: readonly number[], budget: number, pick: (d: TopKDistribution) => number, signal?: AbortSignal): Promise<GeneratedTokens> {
    const V = this.model.config.vocab;
    const seen = new Set(ids);
    const out: number[] = [];
    let step = await this.model.forward(ids);
    for (let i = 0; i < budget; i++) {
      signal?.throwIfAborted();
      const T = step.dims[1];
      const scores = processExpansionScores(step.logits.subarray((T - 1) * V, T * V), this.vocabulary.bias, seen);
      const next = pick(topKDistribution(scores, EXPANSION_TOP_K));
      out.push(next);
      seen.add(next);
      if (i + 1 < budget) step = await this.model.forward([next], 1, step.present);
    }
    return { ids: out };
  }

  close(): Promise<void> {
    return this.model.close();
  }
}

/** Validates `folder` (ExpansionFolderError names every missing file), then loads tokenizer, word list and model. */
export function loadExpansion(folder: string, opts: LoadExpansionOptions): Promise<PromptExpansion> {
  return PromptExpansion.load(folder, opts);
}
