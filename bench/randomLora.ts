/**
 * Kohya-format LoRA files with random factors for a given checkpoint, for
 * benchmarks: what a typical SDXL LoRA trains — every transformer linear of
 * the UNet (q/k/v/out, feed-forward, proj_in/out) and every text-encoder
 * layer (CLIP-L `lora_te1_`, CLIP-G `lora_te2_` q/k/v/out/fc1/fc2) — at one
 * rank, fp16 factors, alpha = rank/2. `convs` adds LoCon factors for the
 * ResBlock 3×3 convs. Values are irrelevant to timing.
 */
import { openSafetensors } from '../services/engine/io/safetensors.ts';
import { floatToHalf } from '../services/engine/io/half.ts';
import { writeSafetensorsFile, type TensorToWrite } from '../services/engine/io/safetensorsWriter.ts';

export interface RandomLoraOptions {
  rank: number;
  seed: number;
  /** Also LoCon factors for the ResBlocks' in_layers.2 / out_layers.3 convs. Default false. */
  convs?: boolean;
}

const UNET = 'model.diffusion_model.';
const CLIP_L = 'conditioner.embedders.0.transformer.text_model.';
const CLIP_G = 'conditioner.embedders.1.model.';
const UNET_LINEAR = /\.(attn[12]\.to_(q|k|v|out\.0)|ff\.net\.(0\.proj|2)|proj_in|proj_out)\.weight$/;
const UNET_CONV = /\.(in_layers\.2|out_layers\.3)\.weight$/;
const CLIP_L_LINEAR = /^encoder\.layers\.(\d+)\.(self_attn\.(q|k|v|out)_proj|mlp\.fc[12])\.weight$/;
const CLIP_G_LINEAR = /^transformer\.resblocks\.(\d+)\.(attn\.in_proj_weight|attn\.out_proj\.weight|mlp\.c_fc\.weight|mlp\.c_proj\.weight)$/;

/** Writes the LoRA; returns how many modules it has. */
export function writeRandomLora(path: string, checkpoint: string, opts: RandomLoraOptions): number {
  const ck = openSafetensors(checkpoint);
  let s = opts.seed >>> 0 || 1;
  const table = new Uint16Array(4096);
  for (let i = 0; i < table.length; i++) {
    s ^= s << 13; s >>>= 0; s ^= s >>> 17; s ^= s << 5; s >>>= 0;
    table[i] = floatToHalf((s / 2 ** 32 - 0.5) * 0.02);
  }
  const random = (n: number) => {
    const h = new Uint16Array(n);
    const off = (s = (s * 1103515245 + 12345) >>> 0) & 4095;
    for (let i = 0; i < n; i++) h[i] = table[(i + off) & 4095];
    return new Uint8Array(h.buffer);
  };
  const r = opts.rank;
  const tensors: TensorToWrite[] = [];
  const module = (name: string, out: number, inShape: number[]) => {
    const conv = inShape.length > 1;
    tensors.push({ name: `${name}.alpha`, dtype: 'F16', shape: [], bytes: () => new Uint8Array(Uint16Array.of(floatToHalf(r / 2)).buffer) });
    tensors.push({ name: `${name}.lora_down.weight`, dtype: 'F16', shape: [r, ...inShape], bytes: () => random(r * inShape.reduce((a, b) => a * b, 1)) });
    tensors.push({ name: `${name}.lora_up.weight`, dtype: 'F16', shape: conv ? [out, r, 1, 1] : [out, r], bytes: () => random(out * r) });
  };
  for (const [key, info] of ck.tensors) {
    if (key.startsWith(UNET)) {
      const rel = key.slice(UNET.length, -'.weight'.length).replace(/\./g, '_');
      if (UNET_LINEAR.test(key) && info.shape.length === 2) module(`lora_unet_${rel}`, info.shape[0], [info.shape[1]]);
      else if (opts.convs && UNET_CONV.test(key) && info.shape.length === 4) module(`lora_unet_${rel}`, info.shape[0], info.shape.slice(1));
    } else if (key.startsWith(CLIP_L)) {
      const m = CLIP_L_LINEAR.exec(key.slice(CLIP_L.length));
      if (m) module(`lora_te1_text_model_encoder_layers_${m[1]}_${m[2].replace('.', '_')}`, info.shape[0], [info.shape[1]]);
    } else if (key.startsWith(CLIP_G)) {
      const m = CLIP_G_LINEAR.exec(key.slice(CLIP_G.length));
      if (!m) continue;
      const layer = `lora_te2_text_model_encoder_layers_${m[1]}_`;
      const width = info.shape[1];
      if (m[2] === 'attn.in_proj_weight') for (const p of ['q', 'k', 'v']) module(`${layer}self_attn_${p}_proj`, width, [width]);
      else module(`${layer}${{ 'attn.out_proj.weight': 'self_attn_out_proj', 'mlp.c_fc.weight': 'mlp_fc1', 'mlp.c_proj.weight': 'mlp_fc2' }[m[2]]}`, info.shape[0], [width]);
    }
  }
  ck.close();
  writeSafetensorsFile(path, tensors, { ss_network_module: 'networks.lora', ss_network_dim: String(r) });
  return tensors.length / 3;
}
