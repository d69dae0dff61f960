/**
 * Which checkpoint tensor a LoRA module patches, built forward from the
 * checkpoint's own keys exactly as Fooocus builds its map (golden-features
 * README §1; F `ldm_patched/modules/lora.py` model_lora_keys_unet /
 * model_lora_keys_clip, `utils.py` unet_to_diffusers). Names are never
 * parsed: a LoRA module matches only if its name is generated here from a
 * weight the model has, so a LoRA for another architecture simply matches
 * nothing.
 *
 * Module names, in Fooocus's map order (the order matters: when one file
 * names the same weight twice, the later entry wins, as in match_lora):
 *  1. UNet, ldm names: `lora_unet_` (+ `lora_prior_unet_`) + the key without
 *     `diffusion_model.` and `.weight`, `.` → `_`, for every UNet `.weight`.
 *  2. UNet, diffusers names (unet_to_diffusers over the inferred config):
 *     `lora_unet_down_blocks_1_attentions_0_…`, and the PEFT-era processor
 *     names `[unet.]down_blocks.1.attentions.0.transformer_blocks.0.attn1.processor.to_q`
 *     (`to_out.0` → `processor.to_out`).
 *  3. Text encoders, per layer n and sublayer (mlp_fc1, mlp_fc2, self_attn_{k,q,v,out}_proj):
 *     with CLIP-L present (SDXL base): `lora_te_…` / `lora_te1_…` /
 *     `text_encoder.text_model.encoder.layers.n.…` → CLIP-L and `lora_te2_…` /
 *     `text_encoder_2.…` → CLIP-G; without it (refiner): `lora_te_…` /
 *     `text_encoder.…` / `lora_prior_te_…` → CLIP-G.
 *
 * Targets. Fooocus converts CLIP-G from open_clip to HF layout on load; this
 * engine keeps open_clip (one graph, weights straight from the file), so
 * CLIP-G's q/k/v targets are row blocks [0,W), [W,2W), [2W,3W) of
 * `attn.in_proj_weight` (and of `in_proj_bias` for bias patches), out_proj is
 * `attn.out_proj`, fc1/fc2 are `mlp.c_fc` / `mlp.c_proj`. Each target also
 * carries Fooocus's internal name (`diffusion_model.…`,
 * `clip_l.transformer.text_model.…`, `clip_g.transformer.text_model.…`),
 * the unit Fooocus counts patched keys in and the golden set names merged
 * weights by.
 *
 * Not mapped (Fooocus maps them, no SDXL LoRA uses them): Stable Cascade's
 * `lora_prior_te_text_projection` (a transposed open_clip projection). The
 * identity entries `diffusion_model.…` → itself, which carry the Fooocus
 * inpaint patch (`.fooocus.patch`), are not module names: matchLora reads
 * them from `internal` (UNet weights and their biases). Fooocus stops the
 * text-encoder map at 32 layers; here it follows the checkpoint's own layer
 * count (SDXL's CLIP-G has exactly 32).
 */
import type { CheckpointInspection } from '../io/inspectCheckpoint.ts';
import { CHECKPOINT_PREFIXES } from '../io/inspectCheckpoint.ts';
import type { UnetConfig } from '../graphs/unetConfig.ts';
import type { WeightSource } from '../onnx/weightSource.ts';

export type LoraGraph = 'unet' | 'clip_l' | 'clip_g';

/** A checkpoint tensor, or a block of its leading rows. */
export interface TensorSlice {
  /** Checkpoint key. */
  key: string;
  /** Leading-dimension rows [start, start + count) of the tensor; the whole tensor when absent. */
  rows?: { start: number; count: number };
  /** Shape of the slice (the tensor's shape with the row count in front). */
  shape: number[];
}

export interface LoraTarget {
  /** Fooocus's state-dict key (`diffusion_model.…`, `clip_l.transformer.text_model.…`, `clip_g.…`). */
  internal: string;
  graph: LoraGraph;
  weight: TensorSlice;
  /** The matching bias (`diff_b` / `b_norm` patches); null when the layer has none. */
  bias: TensorSlice | null;
}

export interface LoraKeyMap {
  /** LoRA module name (what precedes `.lora_up.weight`, `.hada_w1_a`, …) → target, in Fooocus's order. */
  readonly modules: ReadonlyMap<string, LoraTarget>;
  /** Fooocus internal weight name → target. */
  readonly internal: ReadonlyMap<string, LoraTarget>;
}

const UNET_PREFIX = CHECKPOINT_PREFIXES.unet;
const WEIGHT = '.weight';

/** Fooocus's LORA_CLIP_MAP, in its order: HF sublayer → LoRA suffix. */
const LORA_CLIP_MAP: readonly (readonly [string, string])[] = [
  ['mlp.fc1', 'mlp_fc1'],
  ['mlp.fc2', 'mlp_fc2'],
  ['self_attn.k_proj', 'self_attn_k_proj'],
  ['self_attn.q_proj', 'self_attn_q_proj'],
  ['self_attn.v_proj', 'self_attn_v_proj'],
  ['self_attn.out_proj', 'self_attn_out_proj'],
];

/** HF sublayer → open_clip tensor name and the q/k/v row block it occupies in in_proj. */
const OPENCLIP_OF: Record<string, { name: string; block?: number }> = {
  'mlp.fc1': { name: 'mlp.c_fc' },
  'mlp.fc2': { name: 'mlp.c_proj' },
  'self_attn.q_proj': { name: 'attn.in_proj', block: 0 },
  'self_attn.k_proj': { name: 'attn.in_proj', block: 1 },
  'self_attn.v_proj': { name: 'attn.in_proj', block: 2 },
  'self_attn.out_proj': { name: 'attn.out_proj' },
};

export function buildLoraKeyMap(weights: WeightSource, inspection: Pick<CheckpointInspection, 'kind' | 'unet'>): LoraKeyMap {
  const modules = new Map<string, LoraTarget>();
  const internal = new Map<string, LoraTarget>();
  const slice = (key: string): TensorSlice | null => (weights.has(key) ? { key, shape: weights.ref(key).shape } : null);

  // 1. UNet, ldm names.
  const unetTargets = new Map<string, LoraTarget>();
  for (const key of weights.keys()) {
    if (!key.startsWith(UNET_PREFIX) || !key.endsWith(WEIGHT)) continue;
    const rel = key.slice(UNET_PREFIX.length, -WEIGHT.length);
    const target: LoraTarget = {
      internal: `diffusion_model.${rel}${WEIGHT}`,
      graph: 'unet',
      weight: slice(key)!,
      bias: slice(`${UNET_PREFIX}${rel}.bias`),
    };
    unetTargets.set(rel, target);
    internal.set(target.internal, target);
    const flat = rel.replace(/\./g, '_');
    modules.set(`lora_unet_${flat}`, target);
    modules.set(`lora_prior_unet_${flat}`, target);
  }

  // 2. UNet, diffusers names.
  for (const [diffusers, ldm] of unetToDiffusers(inspection.unet)) {
    if (!diffusers.endsWith(WEIGHT)) continue;
    const target = unetTargets.get(ldm.slice(0, -WEIGHT.length));
    if (!target) continue;
    const stem = diffusers.slice(0, -WEIGHT.length);
    modules.set(`lora_unet_${stem.replace(/\./g, '_')}`, target);
    let processor = stem.replace(/\.to_/g, '.processor.to_');
    if (processor.endsWith('.to_out.0')) processor = processor.slice(0, -2);
    modules.set(processor, target);
    modules.set(`unet.${processor}`, target);
  }

  // 3. Text encoders.
  const clipL = inspection.kind === 'sdxl_base' ? CHECKPOINT_PREFIXES.clipL : null;
  const clipGPrefix = inspection.kind === 'sdxl_refiner' ? CHECKPOINT_PREFIXES.refinerClipG : CHECKPOINT_PREFIXES.clipG;
  const layers = Math.max(countLayers(weights, clipL, /^encoder\.layers\.(\d+)\./), countLayers(weights, clipGPrefix, /^transformer\.resblocks\.(\d+)\./));
  let clipLPresent = false;
  for (let n = 0; n < layers; n++) {
    for (const [hf, suffix] of LORA_CLIP_MAP) {
      const kohya = `text_model_encoder_layers_${n}_${suffix}`;
      const diffusers = `text_model.encoder.layers.${n}.${hf}`;
      const l = clipL ? clipLTarget(weights, clipL, n, hf) : null;
      if (l) {
        internal.set(l.internal, l);
        modules.set(`lora_te_${kohya}`, l);
        modules.set(`lora_te1_${kohya}`, l);
        clipLPresent = true;
        modules.set(`text_encoder.${diffusers}`, l);
      }
      const g = clipGTarget(weights, clipGPrefix, n, hf);
      if (g) {
        internal.set(g.internal, g);
        if (clipLPresent) {
          modules.set(`lora_te2_${kohya}`, g);
          modules.set(`text_encoder_2.${diffusers}`, g);
        } else {
          modules.set(`lora_te_${kohya}`, g);
          modules.set(`text_encoder.${diffusers}`, g);
          modules.set(`lora_prior_te_${kohya}`, g);
        }
      }
    }
  }
  return { modules, internal };
}

function clipLTarget(weights: WeightSource, prefix: string, n: number, hf: string): LoraTarget | null {
  const stem = `${prefix}encoder.layers.${n}.${hf}`;
  if (!weights.has(`${stem}${WEIGHT}`)) return null;
  const slice = (key: string): TensorSlice | null => (weights.has(key) ? { key, shape: weights.ref(key).shape } : null);
  return {
    internal: `clip_l.transformer.text_model.encoder.layers.${n}.${hf}${WEIGHT}`,
    graph: 'clip_l',
    weight: slice(`${stem}${WEIGHT}`)!,
    bias: slice(`${stem}.bias`),
  };
}

function clipGTarget(weights: WeightSource, prefix: string, n: number, hf: string): LoraTarget | null {
  const oc = OPENCLIP_OF[hf];
  const stem = `${prefix}transformer.resblocks.${n}.${oc.name}`;
  const part = (suffix: 'weight' | 'bias'): TensorSlice | null => {
    // open_clip's packed projection is `in_proj_weight` / `in_proj_bias`; the others are modules.
    const key = oc.block === undefined ? `${stem}.${suffix}` : `${stem}_${suffix}`;
    if (!weights.has(key)) return null;
    const shape = weights.ref(key).shape;
    if (oc.block === undefined) return { key, shape };
    const count = shape[0] / 3;
    return { key, rows: { start: oc.block * count, count }, shape: [count, ...shape.slice(1)] };
  };
  const weight = part('weight');
  if (!weight) return null;
  return {
    internal: `clip_g.transformer.text_model.encoder.layers.${n}.${hf}${WEIGHT}`,
    graph: 'clip_g',
    weight,
    bias: part('bias'),
  };
}

function countLayers(weights: WeightSource, prefix: string | null, pattern: RegExp): number {
  if (!prefix) return 0;
  let max = -1;
  for (const key of weights.keys()) {
    if (!key.startsWith(prefix)) continue;
    const m = pattern.exec(key.slice(prefix.length));
    if (m) max = Math.max(max, Number(m[1]));
  }
  return max + 1;
}

/** ComfyUI's UNET_MAP_ATTENTIONS (a Python set: order irrelevant). */
const UNET_MAP_ATTENTIONS = ['proj_in.weight', 'proj_in.bias', 'proj_out.weight', 'proj_out.bias', 'norm.weight', 'norm.bias'];

const TRANSFORMER_BLOCKS = [
  'norm1.weight', 'norm1.bias', 'norm2.weight', 'norm2.bias', 'norm3.weight', 'norm3.bias',
  'attn1.to_q.weight', 'attn1.to_k.weight', 'attn1.to_v.weight', 'attn1.to_out.0.weight', 'attn1.to_out.0.bias',
  'attn2.to_q.weight', 'attn2.to_k.weight', 'attn2.to_v.weight', 'attn2.to_out.0.weight', 'attn2.to_out.0.bias',
  'ff.net.0.proj.weight', 'ff.net.0.proj.bias', 'ff.net.2.weight', 'ff.net.2.bias',
];

/** ldm ResBlock name → diffusers resnet name. */
const UNET_MAP_RESNET: readonly (readonly [string, string])[] = [
  ['in_layers.2.weight', 'conv1.weight'], ['in_layers.2.bias', 'conv1.bias'],
  ['emb_layers.1.weight', 'time_emb_proj.weight'], ['emb_layers.1.bias', 'time_emb_proj.bias'],
  ['out_layers.3.weight', 'conv2.weight'], ['out_layers.3.bias', 'conv2.bias'],
  ['skip_connection.weight', 'conv_shortcut.weight'], ['skip_connection.bias', 'conv_shortcut.bias'],
  ['in_layers.0.weight', 'norm1.weight'], ['in_layers.0.bias', 'norm1.bias'],
  ['out_layers.0.weight', 'norm2.weight'], ['out_layers.0.bias', 'norm2.bias'],
];

/** (ldm, diffusers) pairs outside the blocks. */
const UNET_MAP_BASIC: readonly (readonly [string, string])[] = [
  ['label_emb.0.0.weight', 'class_embedding.linear_1.weight'], ['label_emb.0.0.bias', 'class_embedding.linear_1.bias'],
  ['label_emb.0.2.weight', 'class_embedding.linear_2.weight'], ['label_emb.0.2.bias', 'class_embedding.linear_2.bias'],
  ['label_emb.0.0.weight', 'add_embedding.linear_1.weight'], ['label_emb.0.0.bias', 'add_embedding.linear_1.bias'],
  ['label_emb.0.2.weight', 'add_embedding.linear_2.weight'], ['label_emb.0.2.bias', 'add_embedding.linear_2.bias'],
  ['input_blocks.0.0.weight', 'conv_in.weight'], ['input_blocks.0.0.bias', 'conv_in.bias'],
  ['out.0.weight', 'conv_norm_out.weight'], ['out.0.bias', 'conv_norm_out.bias'],
  ['out.2.weight', 'conv_out.weight'], ['out.2.bias', 'conv_out.bias'],
  ['time_embed.0.weight', 'time_embedding.linear_1.weight'], ['time_embed.0.bias', 'time_embedding.linear_1.bias'],
  ['time_embed.2.weight', 'time_embedding.linear_2.weight'], ['time_embed.2.bias', 'time_embedding.linear_2.bias'],
];

/**
 * diffusers UNet key → ldm UNet key (both relative to the UNet), ComfyUI's
 * `unet_to_diffusers` over our config (same field meanings and orders:
 * transformerDepth per input ResBlock, transformerDepthOutput listed from
 * level 0 up, so popping from its end walks output_blocks from 0).
 */
export function unetToDiffusers(config: Pick<UnetConfig, 'numResBlocks' | 'channelMult' | 'transformerDepth' | 'transformerDepthOutput' | 'transformerDepthMiddle'>): Map<string, string> {
  const map = new Map<string, string>();
  const numBlocks = config.channelMult.length;
  const depth = [...config.transformerDepth];
  const depthOutput = [...config.transformerDepthOutput];
  for (let x = 0; x < numBlocks; x++) {
    let n = 1 + (config.numResBlocks[x] + 1) * x;
    for (let i = 0; i < config.numResBlocks[x]; i++) {
      for (const [ldm, diff] of UNET_MAP_RESNET) map.set(`down_blocks.${x}.resnets.${i}.${diff}`, `input_blocks.${n}.0.${ldm}`);
      const transformers = depth.shift() ?? 0;
      if (transformers > 0) {
        for (const b of UNET_MAP_ATTENTIONS) map.set(`down_blocks.${x}.attentions.${i}.${b}`, `input_blocks.${n}.1.${b}`);
        for (let t = 0; t < transformers; t++) {
          for (const b of TRANSFORMER_BLOCKS) {
            map.set(`down_blocks.${x}.attentions.${i}.transformer_blocks.${t}.${b}`, `input_blocks.${n}.1.transformer_blocks.${t}.${b}`);
          }
        }
      }
      n += 1;
    }
    for (const k of ['weight', 'bias']) map.set(`down_blocks.${x}.downsamplers.0.conv.${k}`, `input_blocks.${n}.0.op.${k}`);
  }

  for (const b of UNET_MAP_ATTENTIONS) map.set(`mid_block.attentions.0.${b}`, `middle_block.1.${b}`);
  for (let t = 0; t < config.transformerDepthMiddle; t++) {
    for (const b of TRANSFORMER_BLOCKS) map.set(`mid_block.attentions.0.transformer_blocks.${t}.${b}`, `middle_block.1.transformer_blocks.${t}.${b}`);
  }
  [0, 2].forEach((n, i) => {
    for (const [ldm, diff] of UNET_MAP_RESNET) map.set(`mid_block.resnets.${i}.${diff}`, `middle_block.${n}.${ldm}`);
  });

  const resBlocks = [...config.numResBlocks].reverse();
  for (let x = 0; x < numBlocks; x++) {
    let n = (resBlocks[x] + 1) * x;
    const l = resBlocks[x] + 1;
    for (let i = 0; i < l; i++) {
      let c = 0;
      for (const [ldm, diff] of UNET_MAP_RESNET) map.set(`up_blocks.${x}.resnets.${i}.${diff}`, `output_blocks.${n}.0.${ldm}`);
      c += 1;
      const transformers = depthOutput.pop() ?? 0;
      if (transformers > 0) {
        c += 1;
        for (const b of UNET_MAP_ATTENTIONS) map.set(`up_blocks.${x}.attentions.${i}.${b}`, `output_blocks.${n}.1.${b}`);
        for (let t = 0; t < transformers; t++) {
          for (const b of TRANSFORMER_BLOCKS) {
            map.set(`up_blocks.${x}.attentions.${i}.transformer_blocks.${t}.${b}`, `output_blocks.${n}.1.transformer_blocks.${t}.${b}`);
          }
        }
      }
      if (i === l - 1) {
        for (const k of ['weight', 'bias']) map.set(`up_blocks.${x}.upsamplers.0.conv.${k}`, `output_blocks.${n}.${c}.conv.${k}`);
      }
      n += 1;
    }
  }

  for (const [ldm, diff] of UNET_MAP_BASIC) map.set(diff, ldm);
  return map;
}
