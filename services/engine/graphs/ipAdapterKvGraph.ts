/**
 * IP-Adapter's per-layer image K/V projections (Fooocus `To_KV`), as one
 * ONNX graph from the adapter's `ip_adapter.*` tensors: image tokens
 * [B, N, cross] → for every cross-attention layer n, `k.{n}` = to_k_ip(tokens)
 * and `v.{n}` = to_v_ip(tokens), [B, N, C_n].
 *
 * Layer order is Fooocus's `load_state_dict_ordered`: keys
 * `{i}.to_k_ip.weight` / `{i}.to_v_ip.weight` sorted by the number i (k
 * before v), so `to_kvs[2n]` / `to_kvs[2n+1]` serve the n-th attn2 in
 * patch order (input blocks, output blocks, middle; graphs/unetIpAdapter.ts).
 * Run once per image (and once for the negative tokens); the per-step
 * weighting is ipadapter/ipAdapterAttention.ts.
 */
import { GraphBuilder, type BuiltModel, type ComputeType } from '../onnx/graphBuilder.ts';
import { linear } from '../onnx/layers.ts';
import { prefixedWeights, type WeightSource } from '../onnx/weightSource.ts';
import { CheckpointError } from '../io/engineErrors.ts';

export const IP_KV_PREFIX = 'ip_adapter.';
export const IP_KV_IO = { tokens: 'tokens', k: (n: number) => `k.${n}`, v: (n: number) => `v.${n}` } as const;

export interface IpKvLayer {
  /** The number in the file's key (`2n+1` in SD/SDXL adapters). */
  keyIndex: number;
  /** Output channels C (the attn2 width it serves). */
  channels: number;
}

export interface IpKvConfig {
  /** Token width (`1.to_k_ip.weight.shape[1]`, Fooocus's cross_attention_dim). */
  crossDim: number;
  layers: IpKvLayer[];
}

/** `weights` has keys relative to `ip_adapter.`. */
export function ipKvConfigFromWeights(weights: WeightSource): IpKvConfig {
  const indices = new Set<number>();
  for (const key of weights.keys()) {
    const m = /^(\d+)\.to_[kv]_ip\.weight$/.exec(key);
    if (m) indices.add(Number(m[1]));
  }
  if (indices.size === 0) throw new CheckpointError(weights.name, 'missing_tensor', 'IP-Adapter: no ip_adapter.*.to_k_ip.weight tensors');
  let crossDim = -1;
  const layers: IpKvLayer[] = [];
  for (const keyIndex of [...indices].sort((a, b) => a - b)) {
    const shapes = (['k', 'v'] as const).map((kv) => {
      const key = `${keyIndex}.to_${kv}_ip.weight`;
      if (!weights.has(key)) throw new CheckpointError(weights.name, 'missing_tensor', `IP-Adapter: ${IP_KV_PREFIX}${key} is missing`);
      return weights.ref(key).shape;
    });
    const [[kc, kd], [vc, vd]] = shapes;
    if (shapes.some((s) => s.length !== 2) || kc !== vc || kd !== vd) {
      throw new CheckpointError(weights.name, 'bad_shape', `IP-Adapter: layer ${keyIndex} has k [${shapes[0].join(', ')}] and v [${shapes[1].join(', ')}]`);
    }
    if (crossDim === -1) crossDim = kd;
    else if (kd !== crossDim) throw new CheckpointError(weights.name, 'bad_shape', `IP-Adapter: layer ${keyIndex} takes ${kd}-wide tokens, layer 0 ${crossDim}`);
    layers.push({ keyIndex, channels: kc });
  }
  return { crossDim, layers };
}

/** Input `tokens` float32 [B, N, crossDim] → `k.{n}`, `v.{n}` float32 [B, N, C_n]. */
export function buildIpKvGraph(opts: { weights: WeightSource; config?: IpKvConfig; compute?: ComputeType }): { model: BuiltModel; config: IpKvConfig } {
  const ws = prefixedWeights(opts.weights, IP_KV_PREFIX);
  const config = opts.config ?? ipKvConfigFromWeights(ws);
  const compute = opts.compute ?? 'float32';
  const fp16 = compute === 'float16';
  const g = new GraphBuilder('ip_kv', compute, ws);
  let tokens = g.input(IP_KV_IO.tokens, 'float32', ['B', 'N', config.crossDim]);
  if (fp16) tokens = g.op('Cast', [tokens], { to: 10 });
  config.layers.forEach((layer, n) => {
    for (const kv of ['k', 'v'] as const) {
      let out = linear(g, tokens, `${layer.keyIndex}.to_${kv}_ip`, { bias: false });
      if (fp16) out = g.op('Cast', [out], { to: 1 });
      g.output(out, IP_KV_IO[kv](n), 'float32', ['B', 'N', layer.channels]);
    }
  });
  return { model: g.build(), config };
}
