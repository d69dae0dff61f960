/**
 * Every tensor an SDXL-family UNet graph reads, with its expected shape.
 *
 * Why a manifest: the graph points ORT at checkpoint bytes without reading
 * them, so a missing or mis-shaped tensor would otherwise surface as an
 * opaque ORT load error (or, for a 1-d bias of the wrong length, as silent
 * broadcasting). Checking the manifest up front turns that into a
 * CheckpointError that names the key. It is derived from the same layout as
 * the graph, and the graph test asserts the graph's initializers are exactly
 * these keys.
 */
import { CheckpointError } from '../io/engineErrors.ts';
import type { WeightSource } from '../onnx/weightSource.ts';
import type { UnetConfig } from './unetConfig.ts';
import { unetLayout, type ResBlockLayout, type TransformerLayout, type UnetLayout } from './unetLayout.ts';

export function unetWeightShapes(layout: UnetLayout): Map<string, number[]> {
  const m = new Map<string, number[]>();
  const { config } = layout;
  const temb = config.timeEmbedDim;
  const linear = (p: string, out: number, inp: number, bias = true) => {
    m.set(`${p}.weight`, [out, inp]);
    if (bias) m.set(`${p}.bias`, [out]);
  };
  const conv = (p: string, out: number, inp: number, k: number) => {
    m.set(`${p}.weight`, [out, inp, k, k]);
    m.set(`${p}.bias`, [out]);
  };
  const norm = (p: string, c: number) => {
    m.set(`${p}.weight`, [c]);
    m.set(`${p}.bias`, [c]);
  };
  const res = (r: ResBlockLayout) => {
    norm(`${r.prefix}.in_layers.0`, r.inChannels);
    conv(`${r.prefix}.in_layers.2`, r.outChannels, r.inChannels, 3);
    linear(`${r.prefix}.emb_layers.1`, r.outChannels, temb);
    norm(`${r.prefix}.out_layers.0`, r.outChannels);
    conv(`${r.prefix}.out_layers.3`, r.outChannels, r.outChannels, 3);
    if (r.inChannels !== r.outChannels) conv(`${r.prefix}.skip_connection`, r.outChannels, r.inChannels, 1);
  };
  const transformer = (t: TransformerLayout) => {
    const d = t.innerDim;
    const ctx = config.contextDim ?? d;
    norm(`${t.prefix}.norm`, t.channels);
    if (config.useLinearInTransformer) {
      linear(`${t.prefix}.proj_in`, d, t.channels);
      linear(`${t.prefix}.proj_out`, t.channels, d);
    } else {
      conv(`${t.prefix}.proj_in`, d, t.channels, 1);
      conv(`${t.prefix}.proj_out`, t.channels, d, 1);
    }
    for (let b = 0; b < t.depth; b++) {
      const p = `${t.prefix}.transformer_blocks.${b}`;
      for (const [attn, kvIn] of [['attn1', d], ['attn2', ctx]] as const) {
        linear(`${p}.${attn}.to_q`, d, d, false);
        linear(`${p}.${attn}.to_k`, d, kvIn, false);
        linear(`${p}.${attn}.to_v`, d, kvIn, false);
        linear(`${p}.${attn}.to_out.0`, d, d);
      }
      for (const n of ['norm1', 'norm2', 'norm3']) norm(`${p}.${n}`, d);
      linear(`${p}.ff.net.0.proj`, 2 * t.ffDim, d);
      linear(`${p}.ff.net.2`, d, t.ffDim);
    }
  };

  linear('time_embed.0', temb, config.modelChannels);
  linear('time_embed.2', temb, temb);
  if (config.admInChannels !== null) {
    linear('label_emb.0.0', temb, config.admInChannels);
    linear('label_emb.0.2', temb, temb);
  }
  conv(layout.convIn.prefix, layout.convIn.outChannels, layout.convIn.inChannels, 3);
  for (const b of layout.input) {
    if (b.res) res(b.res);
    if (b.transformer) transformer(b.transformer);
    if (b.downsample) conv(b.downsample.prefix, b.downsample.channels, b.downsample.channels, 3);
  }
  for (const r of layout.middle.res) res(r);
  if (layout.middle.transformer) transformer(layout.middle.transformer);
  for (const b of layout.output) {
    res(b.res);
    if (b.transformer) transformer(b.transformer);
    if (b.upsample) conv(b.upsample.prefix, b.upsample.channels, b.upsample.channels, 3);
  }
  const finalChannels = layout.output.at(-1)?.res.outChannels ?? layout.middle.channels;
  norm('out.0', finalChannels);
  conv('out.2', layout.outChannels, finalChannels, 3);
  return m;
}

const FLOAT_DTYPES = new Set(['F16', 'F32', 'BF16', 'F64']);

/**
 * Checks that `weights` (keys relative to `model.diffusion_model.`) hold every
 * tensor of the config's UNet with the expected shape and a float dtype, and
 * nothing the graph would silently ignore. Throws CheckpointError
 * missing_tensor / bad_shape / unsupported_dtype / unsupported_architecture.
 */
export function validateUnetWeights(weights: WeightSource, config: UnetConfig): UnetLayout {
  const layout = unetLayout(config, weights.name);
  const expected = unetWeightShapes(layout);
  for (const [key, shape] of expected) {
    const ref = weights.ref(key); // throws missing_tensor naming the full checkpoint key
    if (ref.shape.length !== shape.length || ref.shape.some((d, i) => d !== shape[i])) {
      throw new CheckpointError(weights.name, 'bad_shape', `tensor ${ref.key} has shape [${ref.shape}], expected [${shape}]`);
    }
    if (!FLOAT_DTYPES.has(ref.dtype)) {
      throw new CheckpointError(weights.name, 'unsupported_dtype', `tensor ${ref.key} is ${ref.dtype}, expected a float type`);
    }
  }
  const extra = [...weights.keys()].filter((k) => !expected.has(k));
  if (extra.length > 0) {
    // Modules the graph does not build (temporal layers, adapters baked into the file, ...)
    // would be dropped without a word; refuse instead of producing wrong images.
    throw new CheckpointError(
      weights.name,
      'unsupported_architecture',
      `the UNet has ${extra.length} tensor(s) outside the SDXL layout, e.g. ${extra.slice(0, 3).join(', ')}`,
    );
  }
  return layout;
}
