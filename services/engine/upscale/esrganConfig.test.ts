/**
 * ESRGAN layout inference from keys and shapes alone (no weights): the real
 * Fooocus model's figures (nf 64, nb 23, gc 32, ×4), other scales by
 * RRDB.py's rule, Fooocus's `residual_block_` rename, and the typed refusals
 * for files that are not an old-arch RGB ESRGAN.
 */
import { describe, expect, it } from 'vitest';
import { CheckpointError } from '../io/engineErrors.ts';
import { esrganConfigFromShapes, esrganKeyMap, fooocusUpscalerKey, type TensorShapes } from './esrganConfig.ts';

/** Shapes of an old-arch ESRGAN state dict as torch.save writes it (Fooocus's names: `residual_block_`). */
function esrganShapes(nf: number, nb: number, gc: number, stages: number, rdbName = 'residual_block_'): Map<string, number[]> {
  const m = new Map<string, number[]>();
  const conv = (p: string, out: number, inp: number) => {
    m.set(`${p}.weight`, [out, inp, 3, 3]);
    m.set(`${p}.bias`, [out]);
  };
  conv('model.0', nf, 3);
  for (let b = 0; b < nb; b++) {
    for (let r = 1; r <= 3; r++) for (let c = 1; c <= 5; c++) conv(`model.1.sub.${b}.${rdbName}${r}.conv${c}.0`, c === 5 ? nf : gc, nf + (c - 1) * gc);
  }
  conv(`model.1.sub.${nb}`, nf, nf);
  for (let i = 0; i < stages; i++) conv(`model.${3 + 3 * i}`, nf, nf);
  conv(`model.${2 + 3 * stages}`, nf, nf);
  conv(`model.${4 + 3 * stages}`, 3, nf);
  return m;
}

/** The view the loader gives the inference: stored keys renamed as Fooocus does. */
function renamed(stored: Map<string, number[]>): TensorShapes {
  const map = esrganKeyMap(stored.keys());
  return { has: (k) => map.has(k), shape: (k) => stored.get(map.get(k)!)!, keys: () => map.keys() };
}

function refusal(f: () => unknown): CheckpointError {
  try {
    f();
  } catch (e) {
    expect(e).toBeInstanceOf(CheckpointError);
    return e as CheckpointError;
  }
  throw new Error('expected a CheckpointError');
}

describe('esrganConfigFromShapes', () => {
  it('infers the real Fooocus upscaler: nf 64, nb 23, gc 32, ×4 (702 tensors)', () => {
    const shapes = esrganShapes(64, 23, 32, 2);
    expect(shapes.size).toBe(702);
    const config = esrganConfigFromShapes(renamed(shapes), 'fooocus_upscaler_s409985e5.bin');
    expect(config).toEqual({ inChannels: 3, outChannels: 3, filters: 64, blocks: 23, growth: 32, scale: 4, upsampleConvs: [3, 6], hrConv: 8, lastConv: 10 });
  });

  it('counts model.N.weight with N > 6 for the scale: ×1, ×2, ×8', () => {
    expect(esrganConfigFromShapes(renamed(esrganShapes(8, 1, 4, 0)), 'f').scale).toBe(1);
    const x2 = esrganConfigFromShapes(renamed(esrganShapes(8, 3, 4, 1)), 'f');
    expect([x2.scale, x2.upsampleConvs, x2.hrConv, x2.lastConv, x2.blocks, x2.growth]).toEqual([2, [3], 5, 7, 3, 4]);
    const x8 = esrganConfigFromShapes(renamed(esrganShapes(8, 1, 4, 3)), 'f');
    expect([x8.scale, x8.upsampleConvs, x8.hrConv, x8.lastConv]).toEqual([8, [3, 6, 9], 11, 13]);
  });

  it('renames residual_block_ to RDB as Fooocus does, and takes params_ema over params', () => {
    expect(fooocusUpscalerKey('model.1.sub.4.residual_block_2.conv3.0.weight')).toBe('model.1.sub.4.RDB2.conv3.0.weight');
    const map = esrganKeyMap(['params.model.0.weight', 'params_ema.model.0.weight', 'params_ema.model.1.sub.0.residual_block_1.conv1.0.bias']);
    expect([...map]).toEqual([
      ['model.0.weight', 'params_ema.model.0.weight'],
      ['model.1.sub.0.RDB1.conv1.0.bias', 'params_ema.model.1.sub.0.residual_block_1.conv1.0.bias'],
    ]);
    // Keys already renamed (a converted file) are taken as they are.
    expect(esrganConfigFromShapes(renamed(esrganShapes(16, 2, 32, 2, 'RDB')), 'f').blocks).toBe(2);
  });

  it('refuses a file that is not an ESRGAN, naming the file and the reason', () => {
    const vae = new Map([['decoder.conv_in.weight', [512, 4, 3, 3]], ['encoder.conv_in.weight', [128, 3, 3, 3]]]);
    const e = refusal(() => esrganConfigFromShapes(renamed(vae), '/models/upscale_models/vae.safetensors'));
    expect(e.reason).toBe('unsupported_architecture');
    expect(e.file).toBe('/models/upscale_models/vae.safetensors');
    expect(e.message).toContain('no model.0.weight');
  });

  it('refuses BasicSR new-arch names, ESRGAN+, pixel-unshuffle and 2c2 variants', () => {
    const newArch = new Map([['conv_first.weight', [64, 3, 3, 3]], ['body.0.rdb1.conv1.weight', [32, 64, 3, 3]]]);
    expect(refusal(() => esrganConfigFromShapes(renamed(newArch), 'f')).message).toContain('new-arch');

    const plus = esrganShapes(8, 1, 4, 2);
    plus.set('model.1.sub.0.residual_block_1.conv1x1.weight', [4, 8, 1, 1]);
    expect(refusal(() => esrganConfigFromShapes(renamed(plus), 'f')).message).toContain('ESRGAN+');

    const unshuffle = esrganShapes(8, 1, 4, 2);
    unshuffle.set('model.0.weight', [8, 12, 3, 3]);
    expect(refusal(() => esrganConfigFromShapes(renamed(unshuffle), 'f')).message).toContain('takes 12 channels');

    const c2x2 = esrganShapes(8, 1, 4, 2);
    c2x2.set('model.0.weight', [8, 3, 2, 2]);
    expect(refusal(() => esrganConfigFromShapes(renamed(c2x2), 'f')).message).toContain('2×2 kernel');
  });

  it('refuses inconsistent shapes, missing convs and stray tensors', () => {
    const wrongGrowth = esrganShapes(8, 2, 4, 2);
    wrongGrowth.set('model.1.sub.1.residual_block_2.conv3.0.weight', [4, 15, 3, 3]);
    const e1 = refusal(() => esrganConfigFromShapes(renamed(wrongGrowth), 'f'));
    expect([e1.reason, e1.message]).toEqual(['bad_shape', expect.stringContaining('model.1.sub.1.RDB2.conv3.0.weight is [4,15,3,3], expected [4,16,3,3]')]);

    const missing = esrganShapes(8, 2, 4, 2);
    missing.delete('model.1.sub.0.residual_block_3.conv5.0.bias');
    const e2 = refusal(() => esrganConfigFromShapes(renamed(missing), 'f'));
    expect([e2.reason, e2.message]).toEqual(['missing_tensor', expect.stringContaining('model.1.sub.0.RDB3.conv5.0.bias')]);

    const stray = esrganShapes(8, 1, 4, 2);
    stray.set('model.1.sub.0.residual_block_1.extra.weight', [1]);
    expect(refusal(() => esrganConfigFromShapes(renamed(stray), 'f')).message).toContain('1 tensors an ESRGAN does not have');

    const gap = esrganShapes(8, 1, 4, 2);
    gap.delete('model.3.weight');
    gap.delete('model.3.bias');
    expect(refusal(() => esrganConfigFromShapes(renamed(gap), 'f')).message).toContain('do not form an ESRGAN');
  });
});
