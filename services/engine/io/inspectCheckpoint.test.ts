/**
 * inspectCheckpoint on the golden checkpoints and on files made broken or
 * foreign on purpose: each must end in the CheckpointError reason a user can
 * act on. Malformed files are written into a temp dir from the tiny
 * checkpoint (header edits keep its data) or from scratch.
 */
import { closeSync, mkdtempSync, openSync, readFileSync, readSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { inspectCheckpoint } from './inspectCheckpoint.ts';
import type { CheckpointErrorReason } from './engineErrors.ts';
import { writeSafetensors, type FixtureTensor } from './testSupport/writeSafetensors.ts';

const GOLDEN = '/work/shared/golden';
const FEATURES = '/work/shared/golden-features';
const goldenJson = JSON.parse(readFileSync(join(GOLDEN, 'cases.json'), 'utf8'));
const featuresJson = JSON.parse(readFileSync(join(FEATURES, 'cases.json'), 'utf8'));
const BASE = join(GOLDEN, goldenJson.checkpoint);
const REFINER = join(FEATURES, featuresJson.cases.refiner.checkpoint);

let tmp: string;
beforeAll(() => {
  tmp = mkdtempSync(join(tmpdir(), 'inspect-ckpt-'));
});
afterAll(() => {
  rmSync(tmp, { recursive: true, force: true });
});

type Header = Record<string, { dtype: string; shape: number[]; data_offsets: [number, number] } | Record<string, string>>;

/** Copies `src` with an edited header; the data section is kept byte for byte (offsets are relative to it). */
function withHeader(src: string, name: string, edit: (h: Header) => void): string {
  const buf = readFileSync(src);
  const n = Number(buf.readBigUInt64LE(0));
  const header = JSON.parse(buf.subarray(8, 8 + n).toString('utf8')) as Header;
  edit(header);
  const json = Buffer.from(JSON.stringify(header));
  const len = Buffer.alloc(8);
  len.writeBigUInt64LE(BigInt(json.length));
  const path = join(tmp, name);
  writeFileSync(path, Buffer.concat([len, json, buf.subarray(8 + n)]));
  return path;
}

function reasonOf(path: string): { reason: CheckpointErrorReason; message: string } {
  try {
    inspectCheckpoint(path);
  } catch (e) {
    return e as { reason: CheckpointErrorReason; message: string };
  }
  throw new Error(`${path} was accepted`);
}

const f16 = (name: string, shape: number[]): FixtureTensor => ({ name, dtype: 'F16', shape });
const U = 'model.diffusion_model.';

describe('inspectCheckpoint on real layouts', () => {
  it('recognises the tiny base as sdxl_base with its README config and every part', () => {
    const r = inspectCheckpoint(BASE);
    const cfg = goldenJson.config;
    expect(r.kind).toBe('sdxl_base');
    expect(r.unet).toMatchObject({
      modelChannels: cfg.unet.model_channels,
      channelMult: cfg.unet.channel_mult,
      transformerDepthMiddle: cfg.unet.depth_mid,
      contextDim: cfg.derived.unet_context_dim,
      admInChannels: cfg.derived.unet_adm_in_channels,
      timeEmbedDim: cfg.derived.unet_time_embed_dim,
    });
    expect(r.clipL?.prefix).toBe('conditioner.embedders.0.transformer.text_model.');
    expect(r.clipG?.prefix).toBe('conditioner.embedders.1.model.');
    expect(r.vae?.prefix).toBe('first_stage_model.');
    expect(r.missingParts).toEqual([]);
    expect(r.tensorCount).toBe(cfg.derived.checkpoint_tensor_count);
    expect(r.dtypes.all).toEqual({ F16: cfg.derived.checkpoint_tensor_count - 1, I64: 1 }); // position_ids
    expect(Object.keys(r.dtypes.unet)).toEqual(['F16']);
    expect(r.vPred).toBe(false);
  });

  it('recognises the tiny refiner as sdxl_refiner with CLIP-G as embedder 0 and no CLIP-L', () => {
    const r = inspectCheckpoint(REFINER);
    const ref = featuresJson.cases.refiner;
    expect(r.kind).toBe('sdxl_refiner');
    expect(r.unet).toMatchObject({
      channelMult: ref.config.unet.channel_mult,
      transformerDepthMiddle: ref.config.unet.depth_mid,
      contextDim: ref.derived.context_dim,
      admInChannels: ref.derived.adm_in_channels,
    });
    expect(r.clipL).toBeNull();
    expect(r.clipG?.prefix).toBe('conditioner.embedders.0.model.');
    expect(r.missingParts).toEqual([]);
    expect(r.tensorCount).toBe(ref.checkpoint_tensors);
  });

  it('tells base from refiner by the ADM width when a file holds the UNet alone', () => {
    const unetOnly = (h: Header) => {
      for (const k of Object.keys(h)) if (k !== '__metadata__' && !k.startsWith(U)) delete h[k];
    };
    const refiner = inspectCheckpoint(withHeader(REFINER, 'refiner-unet-only.safetensors', unetOnly));
    expect(refiner.kind).toBe('sdxl_refiner');
    expect(refiner.missingParts).toEqual([]);
    const base = inspectCheckpoint(withHeader(BASE, 'base-unet-only.safetensors', unetOnly));
    expect(base.kind).toBe('sdxl_base');
    expect(base.missingParts).toEqual(['clip_l', 'clip_g', 'vae']);
  });

  it('reports a v_pred marker key', () => {
    const path = withHeader(BASE, 'vpred.safetensors', (h) => {
      h.v_pred = { dtype: 'F32', shape: [0], data_offsets: [0, 0] };
    });
    expect(inspectCheckpoint(path).vPred).toBe(true);
  });
});

describe('inspectCheckpoint on broken files', () => {
  it('not_found for a missing file', () => {
    expect(reasonOf(join(tmp, 'nope.safetensors')).reason).toBe('not_found');
  });

  it('truncated for a half-copied checkpoint', () => {
    const full = readFileSync(BASE);
    const path = join(tmp, 'truncated.safetensors');
    writeFileSync(path, full.subarray(0, full.length >> 1));
    expect(reasonOf(path).reason).toBe('truncated');
  });

  it('truncated when the header itself is cut', () => {
    const fd = openSync(BASE, 'r');
    const head = Buffer.alloc(4096);
    readSync(fd, head, 0, head.length, 0);
    closeSync(fd);
    const path = join(tmp, 'cut-header.safetensors');
    writeFileSync(path, head);
    expect(reasonOf(path).reason).toBe('truncated');
  });

  it('bad_header for an implausible header length', () => {
    const path = join(tmp, 'bad-length.safetensors');
    const buf = Buffer.alloc(64);
    buf.writeBigUInt64LE(0xffff_ffff_ffffn, 0);
    writeFileSync(path, buf);
    expect(reasonOf(path).reason).toBe('bad_header');
  });

  it('bad_header for a header that is not JSON', () => {
    const text = Buffer.from('<html>not a model</html>');
    const len = Buffer.alloc(8);
    len.writeBigUInt64LE(BigInt(text.length));
    const path = join(tmp, 'not-json.safetensors');
    writeFileSync(path, Buffer.concat([len, text, Buffer.alloc(16)]));
    expect(reasonOf(path).reason).toBe('bad_header');
  });

  it('missing_tensor naming the key when a UNet tensor is absent', () => {
    const key = `${U}output_blocks.4.0.in_layers.2.weight`;
    const e = reasonOf(withHeader(BASE, 'missing-unet-key.safetensors', (h) => delete h[key]));
    expect(e.reason).toBe('missing_tensor');
    expect(e.message).toContain(key);
  });

  it('missing_tensor (not "SD 1.x") when an SDXL file lacks label_emb', () => {
    const key = `${U}label_emb.0.0.weight`;
    const e = reasonOf(withHeader(BASE, 'missing-label-emb.safetensors', (h) => delete h[key]));
    expect(e.reason).toBe('missing_tensor');
    expect(e.message).toContain(key);
  });

  it('bad_shape naming the key when a UNet tensor has the wrong shape', () => {
    const key = `${U}input_blocks.5.1.proj_in.bias`; // [64] F16: 128 bytes, relabelled [32, 2]
    const e = reasonOf(withHeader(BASE, 'bad-shape.safetensors', (h) => {
      (h[key] as { shape: number[] }).shape = [32, 2];
    }));
    expect(e.reason).toBe('bad_shape');
    expect(e.message).toContain(key);
  });

  it('unsupported_architecture when the UNet carries modules outside the SDXL layout', () => {
    const e = reasonOf(withHeader(BASE, 'extra-module.safetensors', (h) => {
      h[`${U}input_blocks.4.1.time_stack.0.attn1.to_q.weight`] = { dtype: 'F16', shape: [0], data_offsets: [0, 0] };
    }));
    expect(e.reason).toBe('unsupported_architecture');
    expect(e.message).toContain('time_stack');
  });
});

describe('inspectCheckpoint on other model families', () => {
  const unetStub = (ctx: number, proj: number[]): FixtureTensor[] => [
    f16(`${U}input_blocks.0.0.weight`, [32, 4, 3, 3]),
    f16(`${U}input_blocks.1.1.proj_in.weight`, proj),
    f16(`${U}input_blocks.1.1.transformer_blocks.0.attn2.to_k.weight`, [32, ctx]),
    f16(`${U}time_embed.0.weight`, [128, 32]),
    f16('first_stage_model.decoder.conv_in.weight', [32, 4, 3, 3]),
  ];

  it.each([
    ['SD 1.5', [...unetStub(768, [32, 32, 1, 1]), f16('cond_stage_model.transformer.text_model.embeddings.token_embedding.weight', [8, 768])], /Stable Diffusion 1\.x .*context 768/],
    ['SD 2.1', [...unetStub(1024, [32, 32]), f16('cond_stage_model.model.token_embedding.weight', [8, 1024])], /Stable Diffusion 2\.x .*context 1024/],
    ['SD 3', [f16(`${U}joint_blocks.0.context_block.attn.qkv.weight`, [96, 32]), f16(`${U}x_embedder.proj.weight`, [32, 16, 2, 2])], /Stable Diffusion 3/],
    ['Flux (prefixed)', [f16(`${U}double_blocks.0.img_attn.qkv.weight`, [96, 32]), f16(`${U}single_blocks.0.linear1.weight`, [96, 32])], /Flux/],
    ['Flux (bare)', [f16('double_blocks.0.img_attn.qkv.weight', [96, 32]), f16('single_blocks.0.linear1.weight', [96, 32])], /Flux/],
    ['a VAE', [f16('decoder.conv_in.weight', [32, 4, 3, 3]), f16('encoder.conv_in.weight', [32, 3, 3, 3])], /VAE/],
    ['a kohya LoRA', [f16('lora_unet_input_blocks_4_1_proj_in.lora_down.weight', [4, 64])], /LoRA/],
    ['a diffusers UNet', [f16('down_blocks.0.resnets.0.conv1.weight', [32, 32, 3, 3]), f16('conv_in.weight', [32, 4, 3, 3])], /diffusers/],
    ['something else', [f16('classifier.weight', [10, 32])], /not a Stable Diffusion checkpoint/],
  ] as const)('unsupported_architecture for %s, saying what it is', (name, tensors, what) => {
    const e = reasonOf(writeSafetensors(join(tmp, `${name.replace(/\W+/g, '_')}.safetensors`), [...tensors]));
    expect(e.reason).toBe('unsupported_architecture');
    expect(e.message).toMatch(what);
  });

  it('unsupported_architecture for the golden LoRA and Control-LoRA files', () => {
    expect(reasonOf(join(FEATURES, 'loras/tiny-lora-kohya-r4.safetensors')).message).toMatch(/LoRA/);
    expect(reasonOf(join(FEATURES, 'controlnet/control-lora-tiny-rank4.safetensors')).message).toMatch(/ControlNet/);
  });
});
