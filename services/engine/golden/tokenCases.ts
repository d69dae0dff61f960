/**
 * Golden `tokens` and `tokenizer_bpe` cases (README §2.1): prompt text →
 * the SDXL chunks the engine feeds its text encoders (`tokenizeForSdxl`:
 * CLIP-L padded with EOS, CLIP-G with 0), and raw CLIP BPE ids (`encode`).
 * Token ids are compared exactly.
 */
import { encode } from '../text/clipTokenizer.ts';
import { tokenizeForSdxl } from '../text/tokenizePrompt.ts';
import type { CaseRunner } from './caseRunner.ts';

export interface GoldenPrompt {
  index: number;
  text: string;
  n_chunks?: number;
}

interface TokensSection {
  file: string;
  prompts: GoldenPrompt[];
}

interface TokenizerBpeSection {
  items: { text: string; ids: number[] }[];
}

export const runTokenCases: CaseRunner = async (set, c) => {
  const section = set.section<TokensSection>('tokens');
  const file = set.file(section.file);
  for (const prompt of section.prompts) {
    await c.check(`p${prompt.index}`, (checks) => {
      const { clipL, clipG } = tokenizeForSdxl(prompt.text);
      if (prompt.n_chunks !== undefined) checks.require('n_chunks', clipL.length === prompt.n_chunks, `${clipL.length} chunks, expected ${prompt.n_chunks}`);
      for (const [tower, chunks] of [['clip_l', clipL], ['clip_g', clipG]] as const) {
        const key = `p${prompt.index}.${tower}.ids`;
        if (file.has(key)) checks.exact(key, chunks.flatMap((ch) => ch.ids), file.ints(key));
      }
    });
  }
};

export const runTokenizerBpeCases: CaseRunner = async (set, c) => {
  const section = set.section<TokenizerBpeSection>('tokenizer_bpe');
  for (const [i, item] of section.items.entries()) {
    const shown = item.text.length > 32 ? `${item.text.slice(0, 31)}…` : item.text;
    await c.check(`item${i} ${JSON.stringify(shown)}`, (checks) => {
      checks.exact('ids', encode(item.text), item.ids);
    });
  }
};
