/**
 * Golden `torch_randn` cases (README §2.8): `torchRandn(shape, seed)`, the
 * engine's reproduction of `torch.randn(shape, generator=torch.manual_seed(seed))`
 * that gives a Fooocus seed the same initial noise. Seeds are decimal strings
 * (they exceed 2^53).
 */
import { torchRandn } from '../diffusion/torchRandn.ts';
import type { CaseRunner } from './caseRunner.ts';

interface TorchRandnSection {
  file: string;
  items: { key: string; seed: string; shape: number[] }[];
}

export const runTorchRandnCases: CaseRunner = async (set, c) => {
  const section = set.section<TorchRandnSection>('torch_randn');
  const file = set.file(section.file);
  const tol = set.tolerance('torch_randn');
  for (const item of section.items) {
    await c.check(item.key, (checks) => {
      checks.float(item.key, torchRandn(item.shape, BigInt(item.seed)), file.float32(item.key), tol);
    });
  }
};
