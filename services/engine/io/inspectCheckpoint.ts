/**
 * What is in a single-file checkpoint, and can this engine run it?
 *
 * Users pick checkpoints by file name, and a models folder collects anything:
 * SD 1.5 and SD 2.x files, SD3 and Flux, LoRAs, VAEs, half-downloaded files.
 * Each must fail when it is loaded, with a CheckpointError that says what the
 * file is, not deep inside graph building or ORT. Detection goes by key
 * layout (as ComfyUI's model_detection does), never by file name or metadata,
 * and the UNet's config comes from its shapes (unetConfig.ts), checked tensor
 * by tensor against the manifest the graph is built from. CLIP and VAE are
 * only located here, by key prefix; their graph modules check their own
 * tensors when they infer their configs.
 *
 * Base vs refiner: the text-encoder layout decides when present (base:
 * CLIP-L at `conditioner.embedders.0.transformer.` + CLIP-G at
 * `embedders.1.model.`; refiner: CLIP-G alone at `embedders.0.model.`). For a
 * UNet-only file the ADM width decides: the refiner's vector is the pooled
 * CLIP-G output (as wide as its context) plus 5 size/aesthetic sinusoids of
 * 256, the base's is pooled CLIP-G plus 6 sinusoids with a wider context
 * (CLIP-L + CLIP-G).
 */
import { CheckpointError } from './engineErrors.ts';
import { openSafetensors, type SafetensorsDtype, type SafetensorsFile } from './safetensors.ts';
import { inferUnetConfig, UNET_PREFIX, type UnetConfig } from '../graphs/unetConfig.ts';
import { validateUnetWeights } from '../graphs/unetWeightManifest.ts';
import { checkpointWeights, prefixedWeights } from '../onnx/weightSource.ts';

export type CheckpointKind = 'sdxl_base' | 'sdxl_refiner';

/** Key prefixes of the parts of an sgm (SDXL) single-file checkpoint. */
export const CHECKPOINT_PREFIXES = {
  unet: UNET_PREFIX,
  clipL: 'conditioner.embedders.0.transformer.text_model.',
  clipG: 'conditioner.embedders.1.model.',
  /** The refiner carries only CLIP-G, as embedder 0. */
  refinerClipG: 'conditioner.embedders.0.model.',
  vae: 'first_stage_model.',
} as const;

/**
 * The refiner's ADM vector is pooled CLIP-G + 5 sinusoids of 256 (h, w, crop
 * top, crop left, aesthetic score); the base's has 6 (no aesthetic score, but
 * original and target sizes).
 */
const ADM_SINUSOID_WIDTH = 256;
const REFINER_ADM_SINUSOIDS = 5;

export interface CheckpointPart {
  prefix: string;
  tensors: number;
}

export type DtypeCounts = Partial<Record<SafetensorsDtype, number>>;

export interface CheckpointInspection {
  path: string;
  kind: CheckpointKind;
  unet: UnetConfig;
  /** CLIP-L (HF names); null for refiners and files without it. */
  clipL: CheckpointPart | null;
  /** CLIP-G (open_clip names). */
  clipG: CheckpointPart | null;
  vae: CheckpointPart | null;
  /** Parts a base text-to-image run needs that the file lacks (a refiner only ever needs its UNet). */
  missingParts: ('clip_l' | 'clip_g' | 'vae')[];
  /** Tensor counts per stored dtype: the whole file, and the UNet alone. */
  dtypes: { all: DtypeCounts; unet: DtypeCounts };
  /** A `v_pred` key marks a v-prediction model (ComfyUI supported_models SDXL). */
  vPred: boolean;
  tensorCount: number;
}

/** Opens, inspects and closes `path`. Throws CheckpointError. */
export function inspectCheckpoint(path: string): CheckpointInspection {
  const file = openSafetensors(path);
  try {
    return inspectCheckpointFile(file);
  } finally {
    file.close();
  }
}

/** Inspects an already opened file (the loader keeps it open to build graphs from it). */
export function inspectCheckpointFile(file: SafetensorsFile): CheckpointInspection {
  const keys = [...file.tensors.keys()];
  rejectForeignArchitectures(file, keys);

  const weights = checkpointWeights(file);
  const unetWeights = prefixedWeights(weights, UNET_PREFIX);
  const unet = inferUnetConfig(unetWeights);
  if (unet.admInChannels === null) unetWeights.ref('label_emb.0.0.weight'); // sgm layout without ADM: a missing tensor
  if (unet.contextDim === null) {
    throw new CheckpointError(file.path, 'unsupported_architecture', 'the UNet has no cross-attention, unlike every SDXL model');
  }
  validateUnetWeights(unetWeights, unet);

  const part = (prefix: string): CheckpointPart | null => {
    const tensors = keys.reduce((n, k) => n + (k.startsWith(prefix) ? 1 : 0), 0);
    return tensors > 0 ? { prefix, tensors } : null;
  };
  const clipL = part(CHECKPOINT_PREFIXES.clipL);
  const refinerClipG = part(CHECKPOINT_PREFIXES.refinerClipG);
  const vae = part(CHECKPOINT_PREFIXES.vae);
  const kind = classify(clipL, refinerClipG, unet);
  const clipG = kind === 'sdxl_refiner' ? refinerClipG : part(CHECKPOINT_PREFIXES.clipG);

  const missingParts: CheckpointInspection['missingParts'] = [];
  if (kind === 'sdxl_base') {
    if (!clipL) missingParts.push('clip_l');
    if (!clipG) missingParts.push('clip_g');
    if (!vae) missingParts.push('vae');
  }

  const all: DtypeCounts = {};
  const unetDtypes: DtypeCounts = {};
  for (const t of file.tensors.values()) {
    all[t.dtype] = (all[t.dtype] ?? 0) + 1;
    if (t.name.startsWith(UNET_PREFIX)) unetDtypes[t.dtype] = (unetDtypes[t.dtype] ?? 0) + 1;
  }

  return {
    path: file.path,
    kind,
    unet,
    clipL,
    clipG,
    vae,
    missingParts,
    dtypes: { all, unet: unetDtypes },
    vPred: file.has('v_pred'),
    tensorCount: keys.length,
  };
}

function classify(clipL: CheckpointPart | null, refinerClipG: CheckpointPart | null, unet: UnetConfig): CheckpointKind {
  if (clipL) return 'sdxl_base';
  if (refinerClipG) return 'sdxl_refiner';
  const pooled = unet.admInChannels! - REFINER_ADM_SINUSOIDS * ADM_SINUSOID_WIDTH;
  return pooled === unet.contextDim ? 'sdxl_refiner' : 'sdxl_base';
}

/**
 * Names what a file is when it is not an SDXL-family checkpoint. Only key
 * layout is used; shapes are checked later, for files that pass.
 */
function rejectForeignArchitectures(file: SafetensorsFile, keys: string[]): void {
  const reject = (what: string) => {
    throw new CheckpointError(file.path, 'unsupported_architecture', `${what}; this engine runs SDXL base and refiner checkpoints`);
  };
  const any = (test: (k: string) => boolean) => keys.some(test);
  const unetKey = (k: string) => k.startsWith(UNET_PREFIX);

  if (any((k) => k.startsWith(`${UNET_PREFIX}joint_blocks.`) || k.startsWith('joint_blocks.'))) {
    reject('this is a Stable Diffusion 3 checkpoint (MMDiT joint_blocks)');
  }
  if (any((k) => /(^|\.)(double_blocks|single_blocks)\.\d/.test(k))) reject('this is a Flux checkpoint (double_blocks/single_blocks)');

  if (!any((k) => k.startsWith(`${UNET_PREFIX}input_blocks.`))) {
    if (any(unetKey)) reject('the diffusion model is not an ldm UNet (no model.diffusion_model.input_blocks)');
    if (any((k) => k.startsWith('down_blocks.') || k.startsWith('unet.down_blocks.'))) {
      reject('this is a diffusers-format UNet, not a single-file checkpoint');
    }
    if (any((k) => /(^|\.)(input_hint_block|zero_convs|control_model)\./.test(k))) reject('this is a ControlNet / Control-LoRA, not a checkpoint');
    if (any((k) => /(^|[._])lora[._]|hada_w|lokr_w/.test(k))) reject('this is a LoRA/LyCORIS file, not a checkpoint');
    if (any((k) => k.startsWith('decoder.') || k.startsWith('encoder.') || k.startsWith('first_stage_model.'))) {
      reject('this is a VAE without a diffusion model');
    }
    reject('this is not a Stable Diffusion checkpoint (no model.diffusion_model tensors)');
  }

  const hasAdm = keys.includes(`${UNET_PREFIX}label_emb.0.0.weight`);
  const sgmConditioner = any((k) => k.startsWith('conditioner.embedders.'));
  const ldmCondStage = any((k) => k.startsWith('cond_stage_model.'));
  if (sgmConditioner) return; // SDXL layout; a missing label_emb is then a missing tensor
  if (!hasAdm || ldmCondStage) {
    const contextDim = contextWidth(file, keys);
    const sd1 = contextDim === 768 || any((k) => k.startsWith('cond_stage_model.transformer.'));
    const sd2 = contextDim === 1024 || any((k) => k.startsWith('cond_stage_model.model.'));
    const ctx = contextDim === null ? '' : `context ${contextDim}, `;
    if (sd1) reject(`this is a Stable Diffusion 1.x checkpoint (${ctx}${hasAdm ? 'ADM' : 'no ADM'}, cond_stage_model text encoder)`);
    if (sd2) reject(`this is a Stable Diffusion 2.x checkpoint (${ctx}${hasAdm ? 'unCLIP ADM' : 'no ADM'})`);
    if (!hasAdm) reject(`the UNet has no ADM input (label_emb), unlike SDXL (${ctx}not SD 1.x/2.x either)`);
  }
}

/** attn2.to_k in-features of the first transformer block found, if any. */
function contextWidth(file: SafetensorsFile, keys: string[]): number | null {
  const key = keys.find((k) => k.startsWith(UNET_PREFIX) && k.endsWith('.transformer_blocks.0.attn2.to_k.weight'));
  return key ? file.info(key).shape[1] ?? null : null;
}
