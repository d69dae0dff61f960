/**
 * Golden `fooocus_cfg` cases (README §2.9): Fooocus' sharpness filter and
 * adaptive CFG on one recorded step. From `x`, `t`, `pos_x0`, `neg_x0`:
 * `filtered_pos_eps` is the engine's `adaptiveAnisotropicFilter(x − pos_x0,
 * guide pos_x0)`, `denoised` is `fooocusGuidance` — the function the UNet
 * denoiser calls in every Fooocus-guided generation — and the item's
 * progress p = 1 − t/999 and α = 0.001·sharpness·p are checked as numbers.
 */
import { adaptiveAnisotropicFilter, type Nchw } from '../diffusion/guidance/anisotropicFilter.ts';
import { diffusionProgress, fooocusGuidance } from '../diffusion/guidance/fooocusGuidance.ts';
import type { CaseRunner } from './caseRunner.ts';
import type { CaseFile } from './goldenSet.ts';

export interface FooocusCfgItem {
  case: number;
  cfg: number;
  sharpness: number;
  adaptive_cfg: number;
  progress?: number;
  alpha?: number;
}

interface FooocusCfgSection {
  file: string;
  items: FooocusCfgItem[];
}

/** The denoised estimate Fooocus' guidance gives for a case item, from the recorded step's tensors. */
export function fooocusCfgDenoised(file: Pick<CaseFile, 'latent' | 'scalar'>, shape: Nchw, item: FooocusCfgItem): Float64Array {
  return fooocusGuidance({
    x: file.latent('x'),
    shape,
    timestep: file.scalar('t'),
    posX0: file.latent('pos_x0'),
    negX0: file.latent('neg_x0'),
    cfg: item.cfg,
    sharpness: item.sharpness,
    adaptiveCfg: item.adaptive_cfg,
  });
}

export const runFooocusCfgCases: CaseRunner = async (set, c) => {
  const section = set.section<FooocusCfgSection>('fooocus_cfg');
  const file = set.file(section.file);
  const filteredTol = set.tolerance('fooocus_cfg_filtered_pos_eps');
  const denoisedTol = set.tolerance('fooocus_cfg_denoised');
  for (const item of section.items) {
    const k = (name: string) => `case${item.case}.${name}`;
    await c.check(`case${item.case}`, (checks) => {
      const shape = file.shape('x') as unknown as Nchw;
      const x = file.latent('x');
      const posX0 = file.latent('pos_x0');
      const p = diffusionProgress(file.scalar('t'));
      if (item.progress !== undefined) checks.float('progress', [p], [item.progress], { rtol: 1e-6 });
      if (item.alpha !== undefined) checks.float('alpha', [0.001 * item.sharpness * p], [item.alpha], { rtol: 1e-6 });
      if (file.has(k('filtered_pos_eps'))) {
        const filtered = adaptiveAnisotropicFilter(x.map((v, i) => v - posX0[i]), posX0, shape);
        checks.float(k('filtered_pos_eps'), filtered, file.float32(k('filtered_pos_eps')), filteredTol);
      }
      checks.float(k('denoised'), fooocusCfgDenoised(file, shape, item), file.float32(k('denoised')), denoisedTol);
    });
  }
};
