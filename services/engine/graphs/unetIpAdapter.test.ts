/**
 * The UNet's IP-Adapter seam: attn2 numbering in Fooocus's patch order
 * (golden-features `attn2_layout`; SDXL's 70 layers), the variant's extra
 * inputs, and the plain graph left byte-identical.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { encodeModel } from '../onnx/graphBuilder.ts';
import { openSafetensors } from '../io/safetensors.ts';
import { checkpointWeights } from '../onnx/weightSource.ts';
import { inferUnetConfig, unetWeightsOf, type UnetConfig } from './unetConfig.ts';
import { buildUnetGraph } from './unetGraph.ts';
import { ipAttn2Layers, UNET_IP_INPUT } from './unetIpAdapter.ts';
import { unetLayout } from './unetLayout.ts';
import { TINY_CHECKPOINT } from './testing/golden.ts';

const FEATURES = '/work/shared/golden-features';
const section = JSON.parse(readFileSync(join(FEATURES, 'cases.json'), 'utf8')).cases.ipadapter;

/** Consecutive layers of one block merged, as `attn2_layout` lists them. */
function blocks(config: UnetConfig) {
  const out: { block: string; id: number; depth: number; channels: number }[] = [];
  for (const l of ipAttn2Layers(unetLayout(config))) {
    const last = out.at(-1);
    if (last && last.block === l.where.block && last.id === l.where.id) last.depth++;
    else out.push({ block: l.where.block, id: l.where.id, depth: 1, channels: l.channels });
  }
  return out;
}

describe('ipAttn2Layers', () => {
  it('numbers the tiny base UNet attn2s as the golden attn2_layout', () => {
    const f = openSafetensors(TINY_CHECKPOINT);
    try {
      expect(blocks(inferUnetConfig(unetWeightsOf(checkpointWeights(f))))).toEqual(section.attn2_layout);
    } finally {
      f.close();
    }
  });

  it('gives SDXL base Fooocus order: input 4, 5, 7, 8, output 0–5, middle — 70 layers, 166,400 K/V channels', () => {
    const sdxl: UnetConfig = {
      inChannels: 4, outChannels: 4, modelChannels: 320, channelMult: [1, 2, 4], numResBlocks: [2, 2, 2],
      transformerDepth: [0, 0, 2, 2, 10, 10], transformerDepthOutput: [0, 0, 0, 2, 2, 2, 10, 10, 10], transformerDepthMiddle: 10,
      contextDim: 2048, admInChannels: 2816, timeEmbedDim: 1280, numHeadChannels: 64, useLinearInTransformer: true,
    };
    const layers = ipAttn2Layers(unetLayout(sdxl));
    expect(layers).toHaveLength(70);
    expect(blocks(sdxl).map((b) => `${b.block}${b.id}×${b.depth}`)).toEqual([
      'input4×2', 'input5×2', 'input7×10', 'input8×10', 'output0×10', 'output1×10', 'output2×10', 'output3×2', 'output4×2', 'output5×2', 'middle0×10',
    ]);
    expect(2 * layers.reduce((s, l) => s + l.channels, 0)).toBe(166_400);
  });
});

describe('UNet ipAdapter variant', () => {
  it('adds ip_k.n / ip_v.n inputs per attn2 and leaves the plain graph unchanged', () => {
    const f = openSafetensors(TINY_CHECKPOINT);
    try {
      const weights = checkpointWeights(f);
      const plain = buildUnetGraph({ weights, compute: 'float32' });
      const off = buildUnetGraph({ weights, compute: 'float32', variant: { ipAdapter: false } });
      expect(Buffer.from(encodeModel(off.proto)).equals(Buffer.from(encodeModel(plain.proto)))).toBe(true);
      const ip = buildUnetGraph({ weights, compute: 'float32', variant: { ipAdapter: true } });
      const n = section.attn2_layout.reduce((s: number, b: { depth: number }) => s + b.depth, 0);
      const inputs = (ip.proto.graph!.input ?? []).map((i) => i.name);
      expect(inputs.filter((i) => i!.startsWith('ip_'))).toEqual(Array.from({ length: n }, (_, k) => [UNET_IP_INPUT.k(k), UNET_IP_INPUT.v(k)]).flat());
      const concats = (ip.proto.graph!.node ?? []).filter((x) => x.opType === 'Concat' && x.input!.some((i) => i.startsWith('ip_')));
      expect(concats).toHaveLength(2 * n);
    } finally {
      f.close();
    }
  });
});
