/**
 * SDXL-family UNet configuration, inferred from a checkpoint's tensors.
 *
 * Why infer instead of looking up "SDXL base" / "SDXL refiner" presets: the
 * same ldm `UNetModel` code serves SDXL base (320, [1,2,4]), the refiner
 * (384, [1,2,4,4]), distilled variants (SSD-1B, Vega drop blocks) and the tiny
 * test checkpoints. Everything the graph needs is recoverable from shapes and
 * key counts, exactly as ComfyUI's `detect_unet_config`
 * (ldm_patched/modules/model_detection.py) recovers it, so nothing here knows a
 * single SDXL number. Head counts are the one thing weights cannot tell; SDXL
 * fixes the head width (`num_head_channels = 64`), so heads = width / 64.
 *
 * Field names follow ComfyUI's unet_config (camelCased) and keep its orders, so
 * a config can be compared with a ComfyUI dump directly.
 */
import { CheckpointError } from '../io/engineErrors.ts';
import type { WeightSource } from '../onnx/weightSource.ts';
import { prefixedWeights } from '../onnx/weightSource.ts';

/** Key prefix of the UNet inside an ldm/sgm single-file checkpoint. */
export const UNET_PREFIX = 'model.diffusion_model.';

/** SDXL's fixed attention head width (`num_head_channels`). */
export const SDXL_HEAD_CHANNELS = 64;

export interface UnetConfig {
  /** Latent channels in (`input_blocks.0.0` in-features; 4, or 9 for inpaint UNets). */
  inChannels: number;
  /** Channels out (`out.2`). */
  outChannels: number;
  /** Width of level 0 (`input_blocks.0.0` out-features). */
  modelChannels: number;
  /** Level width = modelChannels · channelMult[level]. */
  channelMult: number[];
  /** ResBlocks per level on the way down; the way up has one more per level. */
  numResBlocks: number[];
  /** Transformer depth of each input ResBlock, in input_blocks order (0 = no SpatialTransformer). */
  transformerDepth: number[];
  /**
   * Transformer depth of each output block, in ComfyUI's order: entry k is
   * `output_blocks[n-1-k]`, i.e. listed from level 0 upwards like transformerDepth.
   */
  transformerDepthOutput: number[];
  /** Middle block: ≥ 0 = ResBlock, SpatialTransformer of that depth, ResBlock; -1 = one ResBlock; -2 = none. */
  transformerDepthMiddle: number;
  /** Cross-attention context width (attn2.to_k in-features); null when the UNet has no transformer. */
  contextDim: number | null;
  /** ADM (`label_emb`) input width; null for UNets without the vector conditioning. */
  admInChannels: number | null;
  /** Width of the timestep embedding MLP (4 · modelChannels in every ldm UNet). */
  timeEmbedDim: number;
  /** Attention head width; heads = transformer width / numHeadChannels. */
  numHeadChannels: number;
  /** proj_in/proj_out are Linear (SDXL) rather than 1x1 convs (SD 1.x). */
  useLinearInTransformer: boolean;
}

export interface InferUnetConfigOptions {
  /** Attention head width. Default 64 (SDXL); weights cannot reveal it. */
  numHeadChannels?: number;
}

/**
 * The UNet's tensors keyed relative to `model.diffusion_model.`. Accepts either
 * that view or a whole-checkpoint source (then the prefix is applied here), so
 * callers holding the checkpoint need not know the layout.
 */
export function unetWeightsOf(source: WeightSource): WeightSource {
  if (!source.has('input_blocks.0.0.weight') && source.has(`${UNET_PREFIX}input_blocks.0.0.weight`)) {
    return prefixedWeights(source, UNET_PREFIX);
  }
  return source;
}

export function inferUnetConfig(source: WeightSource, opts: InferUnetConfigOptions = {}): UnetConfig {
  const w = unetWeightsOf(source);
  const numHeadChannels = opts.numHeadChannels ?? SDXL_HEAD_CHANNELS;
  const index = new KeyIndex(w.keys());
  const shape = (key: string) => w.ref(key).shape; // ref() throws missing_tensor with the full key
  const fail = (detail: string) => new CheckpointError(w.name, 'bad_shape', detail);

  const convIn = shape('input_blocks.0.0.weight');
  if (convIn.length !== 4) throw fail(`input_blocks.0.0.weight has shape [${convIn}], expected a 4-d conv weight`);
  const [modelChannels, inChannels] = convIn;
  const outChannels = shape('out.2.weight')[0];
  const timeEmbedDim = shape('time_embed.0.weight')[0];
  const admInChannels = w.has('label_emb.0.0.weight') ? shape('label_emb.0.0.weight')[1] : null;

  let contextDim: number | null = null;
  let useLinearInTransformer = false;
  // Depth of the SpatialTransformer at `<block>.1`, noting context width and proj kind on the way.
  const depthAt = (block: string): number => {
    const depth = index.count(`${block}.1.transformer_blocks.`);
    if (depth > 0 && contextDim === null) {
      contextDim = shape(`${block}.1.transformer_blocks.0.attn2.to_k.weight`)[1];
      useLinearInTransformer = shape(`${block}.1.proj_in.weight`).length === 2;
    }
    return depth;
  };

  const channelMult: number[] = [];
  const numResBlocks: number[] = [];
  const transformerDepth: number[] = [];
  let levelBlocks = 0;
  let levelMult = 0;
  const inputCount = index.count('input_blocks.');
  for (let i = 1; i < inputCount; i++) {
    const block = `input_blocks.${i}`;
    if (w.has(`${block}.0.op.weight`)) {
      // A Downsample closes the current level.
      channelMult.push(levelMult);
      numResBlocks.push(levelBlocks);
      levelBlocks = 0;
      levelMult = 0;
    } else if (w.has(`${block}.0.in_layers.0.weight`)) {
      const width = shape(`${block}.0.out_layers.3.weight`)[0];
      if (width % modelChannels !== 0) throw fail(`${block} is ${width} wide, not a multiple of model_channels ${modelChannels}`);
      levelBlocks++;
      levelMult = width / modelChannels;
      transformerDepth.push(depthAt(block));
    } else {
      throw new CheckpointError(w.name, 'unsupported_architecture', `${UNET_PREFIX}${block} is neither a ResBlock nor a Downsample`);
    }
  }
  channelMult.push(levelMult);
  numResBlocks.push(levelBlocks);
  if (numResBlocks.some((n) => n === 0)) throw fail('a UNet level has no ResBlock');

  const outputCount = index.count('output_blocks.');
  const expectedOutputs = numResBlocks.reduce((a, n) => a + n + 1, 0);
  if (outputCount !== expectedOutputs) {
    throw fail(`${outputCount} output blocks for ${numResBlocks.length} levels of [${numResBlocks}] ResBlocks (expected ${expectedOutputs})`);
  }
  const transformerDepthOutput: number[] = [];
  for (let j = outputCount - 1; j >= 0; j--) transformerDepthOutput.push(depthAt(`output_blocks.${j}`));

  let transformerDepthMiddle: number;
  if (w.has('middle_block.1.proj_in.weight')) transformerDepthMiddle = depthAt('middle_block');
  else if (w.has('middle_block.0.in_layers.0.weight')) transformerDepthMiddle = -1;
  else transformerDepthMiddle = -2;

  return {
    inChannels,
    outChannels,
    modelChannels,
    channelMult,
    numResBlocks,
    transformerDepth,
    transformerDepthOutput,
    transformerDepthMiddle,
    contextDim,
    admInChannels,
    timeEmbedDim,
    numHeadChannels,
    useLinearInTransformer,
  };
}

/** Width of each level. */
export function levelChannels(config: UnetConfig): number[] {
  return config.channelMult.map((m) => m * config.modelChannels);
}

/**
 * Contiguous block counts under a prefix (`<prefix>0.`, `<prefix>1.`, …), as
 * ComfyUI's count_blocks: indices are counted from 0 until the first gap.
 */
class KeyIndex {
  private readonly keys: string[];
  private readonly cache = new Map<string, number>();

  constructor(keys: Iterable<string>) {
    this.keys = [...keys];
  }

  count(prefix: string): number {
    const hit = this.cache.get(prefix);
    if (hit !== undefined) return hit;
    const seen = new Set<number>();
    for (const k of this.keys) {
      if (!k.startsWith(prefix)) continue;
      const rest = k.slice(prefix.length);
      const dot = rest.indexOf('.');
      const n = Number(dot < 0 ? rest : rest.slice(0, dot));
      if (Number.isInteger(n) && n >= 0) seen.add(n);
    }
    let n = 0;
    while (seen.has(n)) n++;
    this.cache.set(prefix, n);
    return n;
  }
}
