/**
 * Golden `unet` cases (README §2.4): one raw UNet call `eps = UNet(x, t,
 * context, y)` per item, through the checkpoint's UNet graph as the engine
 * loads it (`LoadedCheckpoint.unet`). Batch sizes, latent sizes, context
 * lengths and (fractional) timesteps are whatever the case file holds.
 */
import type { CaseRunner } from './caseRunner.ts';

interface UnetSection {
  file: string;
  items: { case: number }[];
}

export const runUnetCases: CaseRunner = async (set, c) => {
  const section = set.section<UnetSection>('unet');
  const file = set.file(section.file);
  const tol = set.tolerance('unet_eps');
  for (const item of section.items) {
    const k = (name: string) => `case${item.case}.${name}`;
    await c.check(`case${item.case}`, async (checks) => {
      const model = await set.checkpoint();
      const tensor = (name: string) => ({ data: file.float32(k(name)), dims: file.shape(k(name)) });
      const eps = await model.unet(tensor('x'), file.float32(k('timesteps')), tensor('context'), tensor('y'));
      checks.float(k('eps'), eps, file.float32(k('eps')), tol);
    });
  }
};
