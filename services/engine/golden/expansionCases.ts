/**
 * Golden `expansion` cases (golden-features README §6): the Fooocus V2 prompt
 * expansion through the engine's own path — `loadExpansion` on the set's
 * folder (torch pickle → safetensors shard → GPT-2 KV-cache graph, CPU
 * float32), the GPT-2 tokenizer, Fooocus's logits processor and top-k.
 *
 * Per prompt `p{i}`: the preprocessed text (safe_str + ','), token ids, the
 * budget, last-position logits (and `logits_all` where the file has it),
 * processed scores, the top-100 sampling distribution and the greedy
 * (argmax) continuation run through the KV-cache loop, plus its decoded
 * text. Then the vocabulary restriction (`logits_bias`,
 * `positive_token_ids`) and the `safe_str` examples. Everything — prompts,
 * folder, counts, tolerances — comes from `cases.json`.
 *
 * top-100 ids are compared exactly up to ties: the processed scores of
 * banned tokens sit near −8192 where float32 steps are 2^-10, so two of them
 * can be equal, and torch.topk's order inside a tie is unspecified. Both id
 * lists are put in a canonical order (golden processed score descending, id
 * ascending) before the exact comparison; a reordered tie is noted on the
 * line. Probabilities are compared by id.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  EXPANSION_TOP_K, expansionBudget, PromptExpansion, processExpansionScores, safeStr, topKDistribution,
} from '../text/promptExpansion.ts';
import type { CaseRunner } from './caseRunner.ts';
import type { Tolerance } from './compare.ts';
import type { GoldenSet } from './goldenSet.ts';

interface ExpansionItem {
  index: number;
  prompt: string;
  preprocessed?: string;
  n_tokens?: number;
  max_new_tokens?: number;
  greedy_text?: string;
}

interface ExpansionSection {
  file: string;
  folder: string;
  config?: { n_layer?: number; n_embd?: number; n_head?: number; n_positions?: number };
  positive_words?: number;
  positive_token_count?: number;
  neg_inf?: number;
  top_k?: number;
  items: ExpansionItem[];
  safe_str?: { input: string; output: string }[];
}

/** README §11 figures, used only when cases.json lacks the entry. */
const FALLBACK = {
  logits: { rtol: 1e-4, atol: 1e-4 } as Tolerance,
  probs: { rtol: 0, atol: 1e-5 } as Tolerance,
};

export const runExpansionCases: CaseRunner = async (set, c) => {
  const section = set.section<ExpansionSection>('expansion');
  const file = set.file(section.file);
  const logitsTol = toleranceByPrefix(set, 'expansion_logits', FALLBACK.logits);
  const probsTol = toleranceByPrefix(set, 'expansion_top100_probs', FALLBACK.probs);
  const topK = section.top_k ?? EXPANSION_TOP_K;
  const cacheDir = mkdtempSync(join(tmpdir(), 'fooocus-golden-expansion-'));
  const loading = PromptExpansion.load(set.resolve(section.folder), { cacheDir, compute: 'float32', session: { providers: ['cpu'] } });
  loading.catch(() => undefined); // reported by the first case that awaits it
  try {
    await c.check('model', async (checks) => {
      const model = (await loading).model;
      const want = section.config ?? {};
      const got = { n_layer: model.config.layers, n_embd: model.config.width, n_head: model.config.heads, n_positions: model.config.positions };
      for (const [k, v] of Object.entries(want)) checks.require(k, got[k as keyof typeof got] === v, `${k} ${got[k as keyof typeof got]}, expected ${v}`);
    });

    for (const item of section.items) {
      const p = `p${item.index}`;
      await c.check(p, async (checks) => {
        const expansion = await loading;
        const V = expansion.model.config.vocab;
        const text = `${safeStr(item.prompt)},`;
        if (item.preprocessed !== undefined) checks.require('preprocessed', text === item.preprocessed, `${JSON.stringify(text)}, expected ${JSON.stringify(item.preprocessed)}`);
        const ids = expansion.tokenizer.encode(text);
        checks.exact(`${p}.input_ids`, ids, file.ints(`${p}.input_ids`));
        const budget = expansionBudget(ids.length);
        if (item.n_tokens !== undefined) checks.require('n_tokens', ids.length === item.n_tokens, `${ids.length} tokens, expected ${item.n_tokens}`);
        if (item.max_new_tokens !== undefined) checks.require('max_new_tokens', budget === item.max_new_tokens, `${budget}, expected ${item.max_new_tokens}`);

        const step = await expansion.model.forward(ids);
        const T = ids.length;
        if (file.has(`${p}.logits_all`)) checks.float(`${p}.logits_all`, step.logits, file.float32(`${p}.logits_all`), logitsTol);
        const last = step.logits.subarray((T - 1) * V, T * V);
        checks.float(`${p}.logits_last`, last, file.float32(`${p}.logits_last`), logitsTol);

        const processed = processExpansionScores(last, expansion.vocabulary.bias, ids);
        const wantProcessed = file.float32(`${p}.processed_scores`);
        checks.float(`${p}.processed_scores`, processed, wantProcessed, logitsTol);

        const dist = topKDistribution(processed, topK);
        const wantIds = file.ints(`${p}.top100_ids`);
        const gotIds = dist.ids.slice(0, wantIds.length);
        const canonical = (list: number[]) => [...list].sort((a, b) => wantProcessed[b] - wantProcessed[a] || a - b);
        checks.exact(`${p}.top100_ids`, canonical(gotIds), canonical(wantIds));
        if (gotIds.some((id, i) => id !== wantIds[i])) checks.note(`${p}: top-100 order differs inside float32 score ties`);
        const probById = new Map(dist.ids.map((id, i) => [id, dist.probs[i]]));
        checks.float(`${p}.top100_probs`, wantIds.map((id) => probById.get(id) ?? 0), file.float32(`${p}.top100_probs`), probsTol);

        const greedy = await expansion.generate(ids, budget, (d) => d.ids[0]);
        checks.exact(`${p}.greedy_ids`, greedy.ids, file.ints(`${p}.greedy_ids`));
        if (item.greedy_text !== undefined) {
          const decoded = safeStr(expansion.tokenizer.decode([...ids, ...greedy.ids]));
          checks.require('greedy_text', decoded === item.greedy_text, `decoded ${JSON.stringify(decoded.slice(-60))}, expected …${JSON.stringify(item.greedy_text.slice(-60))}`);
          const expanded = await expansion.expand(item.prompt, 0, { pick: 'greedy' });
          checks.require('expand(greedy)', expanded === item.greedy_text, `expand() gave ${JSON.stringify(expanded.slice(-60))}`);
        }
      });
    }

    await c.check('vocabulary', async (checks) => {
      const { bias, positiveIds } = (await loading).vocabulary;
      checks.exact('logits_bias', bias, file.float32('logits_bias'));
      checks.exact('positive_token_ids', positiveIds, file.ints('positive_token_ids'));
      if (section.positive_token_count !== undefined) {
        checks.require('positive_token_count', positiveIds.length === section.positive_token_count, `${positiveIds.length}, expected ${section.positive_token_count}`);
      }
      if (section.neg_inf !== undefined) checks.require('neg_inf', bias.some((b) => b === section.neg_inf), `no bias equals neg_inf ${section.neg_inf}`);
    });

    if (section.safe_str?.length) {
      await c.check('safe_str', (checks) => {
        for (const [i, ex] of section.safe_str!.entries()) {
          const got = safeStr(ex.input);
          checks.require(`safe_str[${i}]`, got === ex.output, `${JSON.stringify(ex.input)} → ${JSON.stringify(got)}, expected ${JSON.stringify(ex.output)}`);
        }
      });
    }
  } finally {
    await (await loading.catch(() => undefined))?.close();
    rmSync(cacheDir, { recursive: true, force: true });
  }
};

/** The first `tolerances.fp32` entry whose name starts with `prefix` (cases.json names them "a / b"). */
function toleranceByPrefix(set: GoldenSet, prefix: string, fallback: Tolerance): Tolerance {
  const key = Object.keys(set.json.tolerances?.fp32 ?? {}).find((k) => k.startsWith(prefix));
  return key ? set.tolerance(key) : fallback;
}
