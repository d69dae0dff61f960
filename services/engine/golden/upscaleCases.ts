/**
 * Golden `upscale` cases (golden-features README §4): Fooocus's ESRGAN
 * upscaler through the engine's own path — `LoadedUpscaler.load` on the
 * set's `model_file` (torch zip pickle → safetensors shard, `residual_block_`
 * → `RDB`, RRDBNet graph, CPU float32) and perform_upscale's tiling.
 *
 * `model`: the architecture inferred from the file against `arch`
 * (nf, nb, gc, scale). Per item: output size, the number of tiles the
 * tiling ran, `output01` (where stored) under `upscale_output01`, and
 * `output_u8` under the `upscale_output_u8` rule. Inputs, sizes, tile and
 * overlap come from cases.json.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { LoadedUpscaler } from '../upscale/loadedUpscaler.ts';
import { UPSCALE_OVERLAP, unitToRgb8 } from '../upscale/tiledUpscale.ts';
import type { CaseRunner } from './caseRunner.ts';

interface UpscaleSection {
  file: string;
  model_file: string;
  arch?: { nf?: number; nb?: number; gc?: number; scale?: number };
  tile?: number;
  overlap?: number;
  items: { name: string; input_hw?: [number, number]; output_hw?: [number, number]; tiles?: number }[];
}

export const runUpscaleCases: CaseRunner = async (set, c) => {
  const section = set.section<UpscaleSection>('upscale');
  const file = set.file(section.file);
  // README §11's figure where a set's cases.json lacks the entry.
  const tol = set.json.tolerances?.fp32?.upscale_output01 !== undefined ? set.tolerance('upscale_output01') : { rtol: 0, atol: 1e-5 };
  const u8Rule = set.u8Rule('upscale_output_u8');
  const cacheDir = mkdtempSync(join(tmpdir(), 'fooocus-golden-upscale-'));
  const loading = LoadedUpscaler.load(set.resolve(section.model_file), { cacheDir, compute: 'float32', session: { providers: ['cpu'] } });
  loading.catch(() => undefined); // reported by the first case that awaits it
  try {
    await c.check('model', async (checks) => {
      const { config } = await loading;
      const got = { nf: config.filters, nb: config.blocks, gc: config.growth, scale: config.scale };
      for (const [k, v] of Object.entries(section.arch ?? {})) {
        if (!(k in got)) continue;
        checks.require(k, got[k as keyof typeof got] === v, `${k} ${got[k as keyof typeof got]}, expected ${v}`);
      }
      if (section.overlap !== undefined) checks.require('overlap', section.overlap === UPSCALE_OVERLAP, `the set tiles with overlap ${section.overlap}, Fooocus (and the engine) with ${UPSCALE_OVERLAP}`);
    });

    for (const item of section.items) {
      await c.check(item.name, async (checks) => {
        const upscaler = await loading;
        const k = (name: string) => `${item.name}.${name}`;
        const [height, width] = file.shape(k('input_u8'));
        let tiles = 0;
        const out01 = await upscaler.upscaleFloat({ data: file.u8(k('input_u8')), width, height }, { tile: section.tile, onTile: (_, total) => (tiles = total) });
        if (item.output_hw) {
          const [h, w] = item.output_hw;
          checks.require('output_hw', out01.height === h && out01.width === w, `${out01.height}×${out01.width}, expected ${h}×${w}`);
        }
        if (item.tiles !== undefined) checks.require('tiles', tiles === item.tiles, `${tiles} tiles, expected ${item.tiles}`);
        if (file.has(k('output01'))) checks.float(k('output01'), out01.data, file.float32(k('output01')), tol);
        checks.u8(k('output_u8'), unitToRgb8(out01).data, file.u8(k('output_u8')), u8Rule);
      });
    }
  } finally {
    await (await loading.catch(() => undefined))?.close();
    rmSync(cacheDir, { recursive: true, force: true });
  }
};
