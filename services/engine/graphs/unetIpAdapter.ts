/**
 * The UNet side of IP-Adapter (Fooocus extras/ip_adapter.py `patch_model`):
 * which cross-attention layers take image K/V, in which order, and under
 * which graph input names.
 *
 * Order: Fooocus numbers the attn2 patches input blocks first, then output
 * blocks, then the middle block, each block's transformer_blocks in order
 * (for SDXL: input 4, 5, 7, 8; output 0–5; middle — 70 layers). That is the
 * order of the adapter's `To_KV` list (graphs/ipAdapterKvGraph.ts), so it is
 * derived here from the UNet layout, not hard-coded, and a tiny UNet gets the
 * same rule.
 *
 * Inputs of the `ipAdapter` variant (unetGraph.ts): `ip_k.{n}`, `ip_v.{n}`
 * float32 [B, IPN, C_n], the already weighted image keys and values
 * (ipadapter/ipAdapterAttention.ts), concatenated after the text K/V of
 * layer n before its single softmax. Keeping them inputs (not initializers)
 * lets one session serve every image, weight and number of images (IPN =
 * tokens per image × active images).
 */
import type { TransformerLayout, UnetLayout } from './unetLayout.ts';

export const UNET_IP_INPUT = { k: (n: number) => `ip_k.${n}`, v: (n: number) => `ip_v.${n}` } as const;

export interface IpAttn2Layer {
  /** The SpatialTransformer's key prefix, e.g. `input_blocks.4.1`. */
  transformer: string;
  /** transformer_blocks index within it. */
  block: number;
  /** Width of its K/V (heads · headDim). */
  channels: number;
  /** Fooocus's patch key: ('input' | 'output' | 'middle', block id, index). */
  where: { block: 'input' | 'output' | 'middle'; id: number; index: number };
}

/** Every attn2 of the UNet in Fooocus's patch order. */
export function ipAttn2Layers(layout: UnetLayout): IpAttn2Layer[] {
  const layers: IpAttn2Layer[] = [];
  const add = (t: TransformerLayout | undefined, block: 'input' | 'output' | 'middle', id: number) => {
    if (!t) return;
    for (let b = 0; b < t.depth; b++) layers.push({ transformer: t.prefix, block: b, channels: t.innerDim, where: { block, id, index: b } });
  };
  for (const b of layout.input) add(b.transformer, 'input', b.index);
  for (const b of layout.output) add(b.transformer, 'output', b.index);
  add(layout.middle.transformer, 'middle', 0);
  return layers;
}
