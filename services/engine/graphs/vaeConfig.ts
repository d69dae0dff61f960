/**
 * VAE (ldm `AutoencoderKL`) hyper-parameters, read from the weights alone.
 *
 * Checkpoints carry no config, so widths come from conv shapes and depths from
 * key counts. SDXL is ch 128, ch_mult 1,2,4,4, 2 res blocks, z 4; the test
 * checkpoint is smaller, and nothing below assumes either.
 *
 * Only the SD/SDXL layout is accepted: attention in the middle block only
 * (ldm `attn_resolutions=[]`). A VAE with attention inside its levels is
 * refused with a CheckpointError rather than silently run without it.
 */
import { CheckpointError } from '../io/engineErrors.ts';
import type { WeightSource } from '../onnx/weightSource.ts';

export interface VaeConfig {
  /** Base width: channels of level 0 = ch * chMult[0]. */
  ch: number;
  /** Width multiplier per level; level 0 is full resolution, each further level halves it. */
  chMult: number[];
  /** ResnetBlocks per encoder level; the decoder has one more per level (ldm). */
  numResBlocks: number;
  /** Image channels (3). */
  inChannels: number;
  outChannels: number;
  /** Channels of the decoder input / half the encoder output (4). */
  zChannels: number;
  /** Latent channels between quant_conv and post_quant_conv (4 for SD/SDXL). */
  embedDim: number;
  /** Spatial factor between image and latent: 2^(levels-1). */
  downFactor: number;
  /** GroupNorm eps of every VAE norm (ldm `Normalize`). */
  groupNormEps: number;
}

/**
 * Infers the config. `ws` is the VAE's view (prefixedWeights(checkpoint,
 * 'first_stage_model.')); both encoder and decoder keys are read and checked
 * against each other.
 */
export function vaeConfigFromWeights(ws: WeightSource): VaeConfig {
  const [ch, inChannels] = shape(ws, 'encoder.conv_in.weight');
  const levels = countIndices(ws, /^encoder\.down\.(\d+)\./);
  const upLevels = countIndices(ws, /^decoder\.up\.(\d+)\./);
  if (levels === 0) bad(ws, 'no encoder.down levels');
  if (upLevels !== levels) bad(ws, `encoder has ${levels} levels, decoder ${upLevels}`);
  const chMult: number[] = [];
  for (let i = 0; i < levels; i++) {
    const out = shape(ws, `encoder.down.${i}.block.0.conv1.weight`)[0];
    if (out % ch !== 0) bad(ws, `level ${i} width ${out} is not a multiple of ch ${ch}`);
    chMult.push(out / ch);
  }
  const numResBlocks = countIndices(ws, /^encoder\.down\.0\.block\.(\d+)\./);
  const decoderBlocks = countIndices(ws, /^decoder\.up\.0\.block\.(\d+)\./);
  if (decoderBlocks !== numResBlocks + 1) bad(ws, `decoder has ${decoderBlocks} blocks per level, expected ${numResBlocks + 1}`);
  for (const k of ws.keys()) {
    if (/^(encoder\.down|decoder\.up)\.\d+\.attn\./.test(k)) {
      throw new CheckpointError(ws.name, 'unsupported_architecture', `VAE has attention inside a level (${k}); only mid-block attention is supported`);
    }
  }
  const [zOut2] = shape(ws, 'encoder.conv_out.weight');
  const [zChannels] = shape(ws, 'decoder.conv_in.weight').slice(1);
  if (zOut2 !== 2 * zChannels) bad(ws, `encoder outputs ${zOut2} channels, decoder takes ${zChannels}`);
  const [quantOut, quantIn] = shape(ws, 'quant_conv.weight');
  const [postOut, postIn] = shape(ws, 'post_quant_conv.weight');
  if (quantIn !== zOut2 || postOut !== zChannels || quantOut !== 2 * postIn) bad(ws, 'quant_conv / post_quant_conv shapes do not match the encoder / decoder');
  const [outChannels] = shape(ws, 'decoder.conv_out.weight');
  return {
    ch,
    chMult,
    numResBlocks,
    inChannels,
    outChannels,
    zChannels,
    embedDim: postIn,
    downFactor: 2 ** (levels - 1),
    groupNormEps: 1e-6,
  };
}

/** Channels of level i. */
export function vaeLevelChannels(config: VaeConfig, level: number): number {
  return config.ch * config.chMult[level];
}

function countIndices(ws: WeightSource, pattern: RegExp): number {
  const seen = new Set<number>();
  for (const k of ws.keys()) {
    const m = pattern.exec(k);
    if (m) seen.add(Number(m[1]));
  }
  for (let i = 0; i < seen.size; i++) if (!seen.has(i)) bad(ws, `index ${i} missing under ${pattern.source}`);
  return seen.size;
}

function shape(ws: WeightSource, key: string): number[] {
  return ws.ref(key).shape;
}

function bad(ws: WeightSource, detail: string): never {
  throw new CheckpointError(ws.name, 'bad_shape', detail);
}
