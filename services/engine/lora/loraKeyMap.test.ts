import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { inspectCheckpoint } from '../io/inspectCheckpoint.ts';
import { openSafetensors, type SafetensorsFile } from '../io/safetensors.ts';
import { checkpointWeights } from '../onnx/weightSource.ts';
import { buildLoraKeyMap, unetToDiffusers, type LoraKeyMap } from './loraKeyMap.ts';
import { CHECKPOINT, REFINER_CHECKPOINT } from './testing/loraGolden.ts';

const U = 'model.diffusion_model.';

function mapOf(path: string): { map: LoraKeyMap; file: SafetensorsFile } {
  const file = openSafetensors(path);
  return { map: buildLoraKeyMap(checkpointWeights(file), inspectCheckpoint(path)), file };
}

describe('unetToDiffusers (ComfyUI unet_to_diffusers over the inferred config)', () => {
  // SDXL base: the diffusers ↔ ldm correspondences every SDXL LoRA converter uses.
  const sdxl = {
    numResBlocks: [2, 2, 2], channelMult: [1, 2, 4], transformerDepth: [0, 0, 2, 2, 10, 10],
    transformerDepthOutput: [0, 0, 0, 2, 2, 2, 10, 10, 10], transformerDepthMiddle: 10,
  };
  it.each([
    ['down_blocks.1.attentions.0.transformer_blocks.1.attn1.to_q.weight', 'input_blocks.4.1.transformer_blocks.1.attn1.to_q.weight'],
    ['down_blocks.2.attentions.1.proj_in.weight', 'input_blocks.8.1.proj_in.weight'],
    ['down_blocks.0.downsamplers.0.conv.weight', 'input_blocks.3.0.op.weight'],
    ['down_blocks.1.resnets.0.conv_shortcut.weight', 'input_blocks.4.0.skip_connection.weight'],
    ['up_blocks.0.attentions.0.transformer_blocks.9.ff.net.2.weight', 'output_blocks.0.1.transformer_blocks.9.ff.net.2.weight'],
    ['up_blocks.0.upsamplers.0.conv.weight', 'output_blocks.2.2.conv.weight'],
    ['up_blocks.1.attentions.2.proj_out.weight', 'output_blocks.5.1.proj_out.weight'],
    ['up_blocks.1.upsamplers.0.conv.weight', 'output_blocks.5.2.conv.weight'],
    ['up_blocks.2.resnets.2.conv1.weight', 'output_blocks.8.0.in_layers.2.weight'],
    ['mid_block.attentions.0.transformer_blocks.9.attn2.to_out.0.weight', 'middle_block.1.transformer_blocks.9.attn2.to_out.0.weight'],
    ['mid_block.resnets.1.time_emb_proj.weight', 'middle_block.2.emb_layers.1.weight'],
    ['add_embedding.linear_2.weight', 'label_emb.0.2.weight'],
    ['conv_in.weight', 'input_blocks.0.0.weight'],
  ])('SDXL %s → %s', (diffusers, ldm) => {
    expect(unetToDiffusers(sdxl).get(diffusers)).toBe(ldm);
  });

  it('gives the SDXL up path no upsampler on its last block', () => {
    expect(unetToDiffusers(sdxl).has('up_blocks.2.upsamplers.0.conv.weight')).toBe(true); // mapped, but to a key SDXL lacks:
    expect(unetToDiffusers(sdxl).get('up_blocks.2.upsamplers.0.conv.weight')).toBe('output_blocks.8.1.conv.weight');
  });
});

describe('buildLoraKeyMap on the tiny SDXL base', () => {
  let map: LoraKeyMap;
  let file: SafetensorsFile;
  beforeAll(() => ({ map, file } = mapOf(CHECKPOINT)));
  afterAll(() => file.close());

  it('maps kohya UNet names onto the ldm key with Fooocus internal names', () => {
    const t = map.modules.get('lora_unet_input_blocks_4_1_transformer_blocks_0_attn2_to_k')!;
    expect(t.weight).toEqual({ key: `${U}input_blocks.4.1.transformer_blocks.0.attn2.to_k.weight`, shape: [64, 192] });
    expect(t.internal).toBe('diffusion_model.input_blocks.4.1.transformer_blocks.0.attn2.to_k.weight');
    expect(t.graph).toBe('unet');
    expect(t.bias).toBeNull(); // to_k has no bias
    expect(map.modules.get('lora_unet_out_2')!.bias?.key).toBe(`${U}out.2.bias`);
    expect(map.modules.get('lora_prior_unet_out_2')).toBe(map.modules.get('lora_unet_out_2'));
  });

  it('maps every UNet weight: one target per `.weight` key', () => {
    const unetWeights = [...file.tensors.keys()].filter((k) => k.startsWith(U) && k.endsWith('.weight'));
    const targets = [...map.internal.values()].filter((t) => t.graph === 'unet');
    expect(targets.map((t) => t.weight.key).sort()).toEqual(unetWeights.sort());
  });

  it('maps diffusers names (kohya-flattened and PEFT processor forms) onto the same targets as ldm names', () => {
    const ldm = (name: string) => map.modules.get(`lora_unet_${name}`);
    expect(ldm('down_blocks_1_attentions_0_transformer_blocks_0_attn1_to_q')).toBe(ldm('input_blocks_4_1_transformer_blocks_0_attn1_to_q'));
    expect(map.modules.get('unet.down_blocks.1.attentions.0.transformer_blocks.0.attn1.processor.to_q')).toBe(ldm('input_blocks_4_1_transformer_blocks_0_attn1_to_q'));
    expect(map.modules.get('down_blocks.2.attentions.1.transformer_blocks.1.attn2.processor.to_out')).toBe(ldm('input_blocks_8_1_transformer_blocks_1_attn2_to_out_0'));
    expect(ldm('up_blocks_0_upsamplers_0_conv')).toBe(ldm('output_blocks_2_2_conv'));
    expect(ldm('up_blocks_1_resnets_2_conv_shortcut')).toBe(ldm('output_blocks_5_0_skip_connection'));
    expect(ldm('mid_block_resnets_0_conv2')).toBe(ldm('middle_block_0_out_layers_3'));
    expect(ldm('conv_out')).toBe(ldm('out_2'));
    expect(ldm('time_embedding_linear_1')).toBe(ldm('time_embed_0'));
  });

  it('maps lora_te_, lora_te1_ and text_encoder. names onto CLIP-L (HF layout)', () => {
    const t = map.modules.get('lora_te1_text_model_encoder_layers_1_mlp_fc2')!;
    expect(t.graph).toBe('clip_l');
    expect(t.weight).toEqual({ key: 'conditioner.embedders.0.transformer.text_model.encoder.layers.1.mlp.fc2.weight', shape: [64, 256] });
    expect(t.internal).toBe('clip_l.transformer.text_model.encoder.layers.1.mlp.fc2.weight');
    expect(map.modules.get('lora_te_text_model_encoder_layers_1_mlp_fc2')).toBe(t);
    expect(map.modules.get('text_encoder.text_model.encoder.layers.1.mlp.fc2')).toBe(t);
  });

  it('maps CLIP-G q/k/v onto row blocks of the open_clip in_proj (weight and bias), the rest onto out_proj / c_fc / c_proj', () => {
    const g = 'conditioner.embedders.1.model.transformer.resblocks.0.';
    const k = map.modules.get('lora_te2_text_model_encoder_layers_0_self_attn_k_proj')!;
    expect(k.graph).toBe('clip_g');
    expect(k.internal).toBe('clip_g.transformer.text_model.encoder.layers.0.self_attn.k_proj.weight');
    expect(k.weight).toEqual({ key: `${g}attn.in_proj_weight`, rows: { start: 128, count: 128 }, shape: [128, 128] });
    expect(k.bias).toEqual({ key: `${g}attn.in_proj_bias`, rows: { start: 128, count: 128 }, shape: [128] });
    expect(map.modules.get('lora_te2_text_model_encoder_layers_0_self_attn_q_proj')!.weight.rows).toEqual({ start: 0, count: 128 });
    expect(map.modules.get('lora_te2_text_model_encoder_layers_0_self_attn_v_proj')!.weight.rows).toEqual({ start: 256, count: 128 });
    expect(map.modules.get('lora_te2_text_model_encoder_layers_0_self_attn_out_proj')!.weight.key).toBe(`${g}attn.out_proj.weight`);
    expect(map.modules.get('lora_te2_text_model_encoder_layers_0_mlp_fc1')!.weight.key).toBe(`${g}mlp.c_fc.weight`);
    expect(map.modules.get('text_encoder_2.text_model.encoder.layers.0.mlp.fc2')!.weight.key).toBe(`${g}mlp.c_proj.weight`);
  });

  it('generates names only for layers the checkpoint has', () => {
    expect(map.modules.has('lora_te1_text_model_encoder_layers_9_mlp_fc1')).toBe(false);
    expect(map.modules.has('lora_unet_not_a_layer')).toBe(false);
  });
});

describe('buildLoraKeyMap on the tiny SDXL refiner', () => {
  it('maps lora_te_ / text_encoder. / lora_prior_te_ onto its only tower, CLIP-G as embedder 0', () => {
    const { map, file } = mapOf(REFINER_CHECKPOINT);
    try {
      const t = map.modules.get('lora_te_text_model_encoder_layers_0_self_attn_q_proj')!;
      expect(t.graph).toBe('clip_g');
      expect(t.weight.key).toBe('conditioner.embedders.0.model.transformer.resblocks.0.attn.in_proj_weight');
      expect(map.modules.get('lora_prior_te_text_model_encoder_layers_0_self_attn_q_proj')).toBe(t);
      expect(map.modules.has('lora_te2_text_model_encoder_layers_0_self_attn_q_proj')).toBe(false);
      expect(map.modules.get('lora_unet_output_blocks_3_1_transformer_blocks_0_attn1_to_q')?.graph).toBe('unet');
    } finally {
      file.close();
    }
  });
});
