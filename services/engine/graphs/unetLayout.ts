/**
 * The block-by-block layout of an ldm `UNetModel` for a given config: which
 * module sits at which checkpoint key, with its channel counts.
 *
 * It is computed once, in one place, with the channel bookkeeping of
 * `UNetModel.__init__` (openaimodel.py: `input_block_chans` pushed on the way
 * down and popped on the way up), and shared by the graph builder and by the
 * weight manifest that validates a checkpoint. So the tensors a checkpoint is
 * checked for are exactly the tensors the graph reads.
 */
import { CheckpointError } from '../io/engineErrors.ts';
import { levelChannels, type UnetConfig } from './unetConfig.ts';

/** BasicTransformerBlock's feed-forward expansion. */
const FF_MULT = 4;

export interface ResBlockLayout {
  /** Key prefix, e.g. `input_blocks.4.0`. */
  prefix: string;
  inChannels: number;
  outChannels: number;
}

export interface TransformerLayout {
  /** Key prefix, e.g. `input_blocks.4.1`. */
  prefix: string;
  channels: number;
  /** heads · headDim; equals channels whenever channels is a multiple of the head width. */
  innerDim: number;
  heads: number;
  headDim: number;
  /** Hidden width of the GEGLU feed-forward (FeedForward(dim, mult=4, glu=True)). */
  ffDim: number;
  depth: number;
}

export interface InputBlockLayout {
  index: number;
  res?: ResBlockLayout;
  transformer?: TransformerLayout;
  /** Stride-2 conv at `input_blocks.N.0.op`. */
  downsample?: { prefix: string; channels: number };
  outChannels: number;
}

export interface OutputBlockLayout {
  index: number;
  /** Channels of the skip concatenated onto h before the ResBlock. */
  skipChannels: number;
  res: ResBlockLayout;
  transformer?: TransformerLayout;
  /** Nearest-neighbour ×2 (to the next skip's size) + conv at `output_blocks.N.{1|2}.conv`. */
  upsample?: { prefix: string; channels: number };
}

export interface UnetLayout {
  config: UnetConfig;
  /** input_blocks[0]: conv_in. */
  convIn: { prefix: string; inChannels: number; outChannels: number };
  /** input_blocks[1..]. */
  input: InputBlockLayout[];
  /** ResBlock [, SpatialTransformer, ResBlock]; empty when the UNet has none. */
  middle: { res: ResBlockLayout[]; transformer?: TransformerLayout; channels: number };
  output: OutputBlockLayout[];
  /** `out.0` GroupNorm, `out.2` conv. */
  outChannels: number;
}

/** `file` only names the checkpoint in errors. */
export function unetLayout(config: UnetConfig, file = 'unet'): UnetLayout {
  const widths = levelChannels(config);
  const depthIn = [...config.transformerDepth];
  const depthOut = [...config.transformerDepthOutput];
  const transformer = (prefix: string, channels: number, depth: number): TransformerLayout => {
    const heads = Math.floor(channels / config.numHeadChannels);
    if (heads < 1) {
      throw new CheckpointError(file, 'unsupported_architecture', `${prefix}: a ${channels}-wide SpatialTransformer cannot have ${config.numHeadChannels}-wide heads`);
    }
    const innerDim = heads * config.numHeadChannels;
    return { prefix, channels, innerDim, heads, headDim: config.numHeadChannels, ffDim: FF_MULT * innerDim, depth };
  };

  const mc = config.modelChannels;
  const input: InputBlockLayout[] = [];
  const skipChannels = [mc];
  let ch = mc;
  let index = 1;
  for (let level = 0; level < widths.length; level++) {
    for (let r = 0; r < config.numResBlocks[level]; r++) {
      const res = { prefix: `input_blocks.${index}.0`, inChannels: ch, outChannels: widths[level] };
      ch = widths[level];
      const depth = depthIn.shift() ?? 0;
      input.push({ index, res, transformer: depth > 0 ? transformer(`input_blocks.${index}.1`, ch, depth) : undefined, outChannels: ch });
      skipChannels.push(ch);
      index++;
    }
    if (level !== widths.length - 1) {
      input.push({ index, downsample: { prefix: `input_blocks.${index}.0.op`, channels: ch }, outChannels: ch });
      skipChannels.push(ch);
      index++;
    }
  }

  const dm = config.transformerDepthMiddle;
  const middle: UnetLayout['middle'] = { res: [], channels: ch };
  if (dm >= -1) middle.res.push({ prefix: 'middle_block.0', inChannels: ch, outChannels: ch });
  if (dm >= 0) {
    middle.transformer = transformer('middle_block.1', ch, dm);
    middle.res.push({ prefix: 'middle_block.2', inChannels: ch, outChannels: ch });
  }

  const output: OutputBlockLayout[] = [];
  index = 0;
  for (let level = widths.length - 1; level >= 0; level--) {
    for (let r = 0; r <= config.numResBlocks[level]; r++) {
      const skip = skipChannels.pop()!;
      const res = { prefix: `output_blocks.${index}.0`, inChannels: ch + skip, outChannels: widths[level] };
      ch = widths[level];
      const depth = depthOut.pop() ?? 0;
      const block: OutputBlockLayout = { index, skipChannels: skip, res };
      if (depth > 0) block.transformer = transformer(`output_blocks.${index}.1`, ch, depth);
      if (level > 0 && r === config.numResBlocks[level]) {
        block.upsample = { prefix: `output_blocks.${index}.${block.transformer ? 2 : 1}.conv`, channels: ch };
      }
      output.push(block);
      index++;
    }
  }

  return {
    config,
    convIn: { prefix: 'input_blocks.0.0', inChannels: config.inChannels, outChannels: mc },
    input,
    middle,
    output,
    outChannels: config.outChannels,
  };
}
