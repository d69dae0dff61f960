/**
 * `black_out_nsfw`: an NSFW classifier run on each finished image; a flagged image is replaced
 * by a black one of the same size (Fooocus extras/censor.py, pipeline.md §1.13). Fooocus ships
 * diffusers' StableDiffusionSafetyChecker as a torch file; the engine runs ONNX, so the user
 * supplies the classifier as an ONNX file. Without it, asking for black_out_nsfw is an error
 * (SafetyCheckerMissingError) rather than a silent no-op: an operator who promised censoring
 * must not ship uncensored images because a file was forgotten.
 *
 * Model contract — one file, `<MODELS_DIR>/safety_checker/model.onnx`, either:
 *
 *  A. a diffusers StableDiffusionSafetyChecker export, as written by diffusers'
 *     `scripts/convert_stable_diffusion_checkpoint_to_onnx.py` or optimum's
 *     `optimum-cli export onnx` of a Stable Diffusion 1.x pipeline (the `safety_checker/model.onnx`
 *     of e.g. CompVis/stable-diffusion-safety-checker or runwayml/stable-diffusion-v1-5 ONNX):
 *       inputs  `clip_input` float32 [N, 3, 224, 224], `images` float32 [N, H, W, 3]
 *       outputs `has_nsfw_concepts` bool [N] (plus `out_images`, ignored);
 *     this is the same model and thresholds Fooocus uses, so decisions match Fooocus;
 *  B. any classifier with exactly one tensor input, float32/float16 [N, 3, 224, 224], and whose
 *     FIRST output is either bool [N] (flagged) or float [N] / [N, 1] (NSFW probability;
 *     flagged when > `threshold`, default 0.5). A model with softmax logits [N, 2] can be
 *     adapted by appending Softmax and a Gather of the NSFW column before export.
 *
 * Input preprocessing is CLIPImageProcessor's (F extras/safety_checker/configs/
 * preprocessor_config.json): shortest side resized to 224 (bicubic), centre crop 224×224,
 * scaled to [0, 1], normalised per channel with CLIP's mean (0.48145466, 0.4578275,
 * 0.40821073) and std (0.26862954, 0.26130258, 0.27577711), laid out NCHW. A type-B model
 * trained with another normalisation will see shifted inputs; export it with a normalisation
 * node folded in.
 *
 * Images are checked one at a time (N = 1), so models with a fixed batch of 1 work too.
 */
import { stat } from 'node:fs/promises';
import { join } from 'node:path';
import * as ort from 'onnxruntime-node';
import sharp from 'sharp';
import { EngineInputError } from '../io/engineErrors.ts';
import { tensorToFloat32 } from '../runtime/onnxSession.ts';
import { floatToHalf } from '../io/half.ts';

/** Folder and file name of the classifier under MODELS_DIR. */
export const SAFETY_CHECKER_FOLDER = 'safety_checker';
export const SAFETY_CHECKER_FILE = 'model.onnx';

export const CLIP_IMAGE_SIZE = 224;
export const CLIP_MEAN = [0.48145466, 0.4578275, 0.40821073] as const;
export const CLIP_STD = [0.26862954, 0.26130258, 0.27577711] as const;

/** black_out_nsfw was asked for but no classifier file is installed. */
export class SafetyCheckerMissingError extends EngineInputError {
  constructor(readonly path: string) {
    super(
      `black_out_nsfw needs an ONNX NSFW classifier at ${path} (none found); install one as described in ` +
        'services/engine/image/safetyChecker.ts (e.g. the safety_checker/model.onnx of an ONNX Stable Diffusion 1.x export), ' +
        'or send black_out_nsfw=false',
    );
    this.name = 'SafetyCheckerMissingError';
  }
}

/** The classifier file exists but does not have one of the supported signatures. */
export class SafetyCheckerModelError extends EngineInputError {
  constructor(readonly path: string, detail: string) {
    super(`NSFW classifier ${path} does not fit the safety checker contract: ${detail}`);
    this.name = 'SafetyCheckerModelError';
  }
}

export interface SafetyVerdict {
  nsfw: boolean;
  /** The model's NSFW probability for type-B float models; null when the model answers yes/no. */
  score: number | null;
}

export interface RgbImage {
  /** Interleaved RGB, 8 bits per channel, row-major. */
  rgb: Uint8Array;
  width: number;
  height: number;
}

export interface SafetyCheckerOptions {
  /** Execution providers for the session. Default ['cpu']. */
  providers?: ort.InferenceSession.ExecutionProviderConfig[];
  /** Type-B float models: flagged when score > threshold. Default 0.5. */
  threshold?: number;
}

type Signature =
  | { kind: 'diffusers'; clipInput: string; images: string; imagesShape: number[]; flag: string; inputType: 'float32' | 'float16' }
  | { kind: 'classifier'; input: string; output: string; outputType: 'bool' | 'float'; inputType: 'float32' | 'float16' };

export class SafetyChecker {
  private constructor(
    private readonly session: ort.InferenceSession,
    private readonly signature: Signature,
    private readonly threshold: number,
  ) {}

  static modelPath(modelsDir: string): string {
    return join(modelsDir, SAFETY_CHECKER_FOLDER, SAFETY_CHECKER_FILE);
  }

  /** Opens `<modelsDir>/safety_checker/model.onnx`; throws SafetyCheckerMissingError when absent. */
  static async open(modelsDir: string, options: SafetyCheckerOptions = {}): Promise<SafetyChecker> {
    return SafetyChecker.openFile(SafetyChecker.modelPath(modelsDir), options);
  }

  static async openFile(path: string, options: SafetyCheckerOptions = {}): Promise<SafetyChecker> {
    const info = await stat(path).catch(() => null);
    if (!info?.isFile()) throw new SafetyCheckerMissingError(path);
    let session: ort.InferenceSession;
    try {
      session = await ort.InferenceSession.create(path, { executionProviders: options.providers ?? ['cpu'], logSeverityLevel: 3 });
    } catch (err) {
      throw new SafetyCheckerModelError(path, `onnxruntime cannot load it (${(err as Error).message})`);
    }
    try {
      return new SafetyChecker(session, detectSignature(path, session), options.threshold ?? 0.5);
    } catch (err) {
      await session.release();
      throw err;
    }
  }

  /** 'diffusers' (type A) or 'classifier' (type B). */
  get kind(): Signature['kind'] {
    return this.signature.kind;
  }

  async check(image: RgbImage): Promise<SafetyVerdict> {
    const pixels = await clipPixelValues(image);
    const sig = this.signature;
    if (sig.kind === 'diffusers') {
      const images = new Float32Array(sig.imagesShape.reduce((a, b) => a * b, 1));
      const out = await this.session.run(
        { [sig.clipInput]: floatTensor(pixels, [1, 3, CLIP_IMAGE_SIZE, CLIP_IMAGE_SIZE], sig.inputType), [sig.images]: floatTensor(images, sig.imagesShape, sig.inputType) },
        [sig.flag],
      );
      return { nsfw: Boolean((out[sig.flag].data as ArrayLike<number | boolean>)[0]), score: null };
    }
    const out = await this.session.run({ [sig.input]: floatTensor(pixels, [1, 3, CLIP_IMAGE_SIZE, CLIP_IMAGE_SIZE], sig.inputType) }, [sig.output]);
    const t = out[sig.output];
    if (sig.outputType === 'bool') return { nsfw: Boolean((t.data as ArrayLike<number | boolean>)[0]), score: null };
    const values = tensorToFloat32(t);
    if (values.length !== 1) throw new SafetyCheckerModelError('(loaded model)', `expected one score per image, got ${values.length}`);
    return { nsfw: values[0] > this.threshold, score: values[0] };
  }

  async close(): Promise<void> {
    await this.session.release();
  }
}

/**
 * Fooocus `default_censor`: flagged images become black (all zero, same size); the others are
 * returned as they are. Verdicts are returned for logging and metrics.
 */
export async function censorImages<T extends RgbImage>(checker: SafetyChecker, images: readonly T[]): Promise<{ images: T[]; verdicts: SafetyVerdict[] }> {
  const verdicts: SafetyVerdict[] = [];
  const out: T[] = [];
  for (const image of images) {
    const verdict = await checker.check(image);
    verdicts.push(verdict);
    out.push(verdict.nsfw ? { ...image, rgb: new Uint8Array(image.rgb.length) } : image);
  }
  return { images: out, verdicts };
}

/** CLIPImageProcessor: resize shortest side to 224 (bicubic), centre crop, rescale, normalise; CHW float32. */
export async function clipPixelValues(image: RgbImage): Promise<Float32Array> {
  const { rgb, width, height } = image;
  if (rgb.length !== width * height * 3) throw new EngineInputError(`RGB buffer of ${rgb.length} bytes does not match ${width}×${height}×3`);
  const resized = await sharp(Buffer.from(rgb.buffer, rgb.byteOffset, rgb.byteLength), { raw: { width, height, channels: 3 } })
    .resize(CLIP_IMAGE_SIZE, CLIP_IMAGE_SIZE, { fit: 'cover', position: 'centre', kernel: 'cubic' })
    .raw()
    .toBuffer();
  const plane = CLIP_IMAGE_SIZE * CLIP_IMAGE_SIZE;
  const out = new Float32Array(3 * plane);
  for (let i = 0; i < plane; i++) {
    for (let c = 0; c < 3; c++) out[c * plane + i] = (resized[i * 3 + c] / 255 - CLIP_MEAN[c]) / CLIP_STD[c];
  }
  return out;
}

function floatTensor(data: Float32Array, dims: number[], type: 'float32' | 'float16'): ort.Tensor {
  if (type === 'float32') return new ort.Tensor('float32', data, dims);
  const h = new Uint16Array(data.length);
  for (let i = 0; i < h.length; i++) h[i] = floatToHalf(data[i]);
  return new ort.Tensor('float16', h, dims);
}

function detectSignature(path: string, session: ort.InferenceSession): Signature {
  const tensors = (list: readonly ort.InferenceSession.ValueMetadata[]) => list.filter((m): m is ort.InferenceSession.TensorValueMetadata => m.isTensor);
  const inputs = tensors(session.inputMetadata);
  const outputs = tensors(session.outputMetadata);
  const floatType = (m: ort.InferenceSession.TensorValueMetadata, what: string): 'float32' | 'float16' => {
    if (m.type === 'float32' || m.type === 'float16') return m.type;
    throw new SafetyCheckerModelError(path, `${what} '${m.name}' is ${m.type}, expected float32 or float16`);
  };
  const checkPixelShape = (m: ort.InferenceSession.TensorValueMetadata) => {
    const s = m.shape;
    const fixed = (i: number, v: number) => typeof s[i] !== 'number' || s[i] === v;
    if (s.length !== 4 || !fixed(0, 1) || !fixed(1, 3) || !fixed(2, CLIP_IMAGE_SIZE) || !fixed(3, CLIP_IMAGE_SIZE)) {
      throw new SafetyCheckerModelError(path, `input '${m.name}' has shape [${s.join(', ')}], expected [N, 3, 224, 224]`);
    }
  };

  const clip = inputs.find((m) => m.name === 'clip_input');
  const images = inputs.find((m) => m.name === 'images');
  const flag = outputs.find((m) => m.name === 'has_nsfw_concepts');
  if (clip && images && flag) {
    checkPixelShape(clip);
    const imagesShape = images.shape.map((d, i) => (typeof d === 'number' ? d : i === 3 ? 3 : 1));
    return { kind: 'diffusers', clipInput: clip.name, images: images.name, imagesShape, flag: flag.name, inputType: floatType(clip, 'input') };
  }
  if (inputs.length !== 1) {
    throw new SafetyCheckerModelError(path, `expected a diffusers safety checker (clip_input, images → has_nsfw_concepts) or a classifier with one input, found inputs ${inputs.map((m) => m.name).join(', ') || '(none)'}`);
  }
  checkPixelShape(inputs[0]);
  const out = outputs[0];
  if (!out) throw new SafetyCheckerModelError(path, 'the model has no tensor output');
  const perImage = out.shape.slice(1).reduce<number>((n, d) => n * (typeof d === 'number' ? d : Number.NaN), 1);
  if (out.type !== 'bool' && !(out.type === 'float32' || out.type === 'float16')) {
    throw new SafetyCheckerModelError(path, `output '${out.name}' is ${out.type}, expected bool or float`);
  }
  if (out.shape.length > 2 || (out.shape.length === 2 && perImage !== 1 && !Number.isNaN(perImage))) {
    throw new SafetyCheckerModelError(path, `output '${out.name}' has shape [${out.shape.join(', ')}], expected [N] or [N, 1] (one score or flag per image)`);
  }
  return { kind: 'classifier', input: inputs[0].name, output: out.name, outputType: out.type === 'bool' ? 'bool' : 'float', inputType: floatType(inputs[0], 'input') };
}
