/**
 * The image side of a Fooocus inpaint/outpaint, in Fooocus' order
 * (F modules/async_worker.py apply_inpaint / apply_outpaint, the
 * InpaintWorker constructor in modules/inpaint_worker.py; pipeline.md §3.3–3.4):
 *
 *  1. `prepareInpaintMask`: upload merge → erode_or_dilate → invert;
 *  2. outpaint padding when sides are selected (outpaint.ts), which forces
 *     strength and respective field to 1;
 *  3. `prepareInpaintTask`: interested area for the respective field, crop,
 *     upscale when the crop's shape ceil is below 1024 (Fooocus'
 *     ESRGAN `perform_upscale`, passed in by the caller), set_image_shape_ceil
 *     1024, the crop mask Lanczos-resampled and thresholded at 127, the
 *     fooocus_fill when denoise > 0.99, the soft blend mask of the full mask;
 *  4. encode (encodeVaeInpaint.ts), sample (pipeline/inpaint.ts), decode, then
 *     `inpaintPostProcess(generated, task.original, task.area, task.softMask)`.
 */
import { getShapeCeil, setImageShapeCeil } from '../image/varyInputImage.ts';
import { resampleLanczos, type U8Image } from '../image/resampleLanczos.ts';
import { fooocusFill } from './fooocusFill.ts';
import { cropImage, interestedArea, type Abcd } from './interestedArea.ts';
import { erodeOrDilate, invertMask, mergeUploadedMask, morphologicalOpen, up255, type Mask } from './maskMorphology.ts';

/** Fooocus' inpaint working size. */
export const INPAINT_SHAPE_CEIL = 1024;
/** Fooocus fills the masked region only when the denoise exceeds this. */
export const FILL_DENOISE_THRESHOLD = 0.99;
/** The crop mask's threshold after resampling (`up255(…, t=127)`). */
const CROP_MASK_THRESHOLD = 127;

export interface InpaintMaskOptions {
  /** The advanced-masking upload (any channel count), merged first; default none. */
  upload?: U8Image;
  /** Fooocus `inpaint_erode_or_dilate`: > 0 dilate, < 0 erode, iterations of 3×3; default 0. */
  erodeOrDilate?: number;
  /** Fooocus `invert_mask_checkbox`; default false. */
  invert?: boolean;
}

/** Step 1: the drawn mask after upload merge, erode/dilate and invert. */
export function prepareInpaintMask(drawn: Mask, opts: InpaintMaskOptions = {}): Mask {
  let mask = opts.upload ? mergeUploadedMask(drawn, opts.upload).merged : drawn;
  if (opts.erodeOrDilate) mask = erodeOrDilate(mask, opts.erodeOrDilate);
  if (opts.invert) mask = invertMask(mask);
  return mask;
}

export interface InpaintTaskInput {
  /** The (possibly outpaint-padded) canvas, RGB. */
  image: U8Image;
  /** Its mask, 0 keep / 255 repaint. */
  mask: Mask;
  /** Fooocus `inpaint_respective_field` (0.618 UI default, 0 "Detail", 1 outpaint). */
  respectiveField: number;
  /** The inpaint strength; the fill runs above 0.99. */
  denoise: number;
  /** Fooocus' ESRGAN `perform_upscale` for crops whose shape ceil is below 1024; default: none (straight Lanczos). */
  upscale?: (crop: U8Image) => Promise<U8Image>;
}

export interface InpaintTask {
  /** The interested area [a, b, c, d] in the canvas. */
  area: Abcd;
  /** The crop at shape ceil 1024 (what is encoded and generated). */
  image: U8Image;
  /** The crop's mask at that size, 0/255. */
  mask: Mask;
  /** The fill (or the crop itself when denoise ≤ 0.99). */
  fill: U8Image;
  /** The canvas and its soft blend mask, for post-processing. */
  original: U8Image;
  softMask: Mask;
}

/** Step 3 (Fooocus' InpaintWorker constructor). */
export async function prepareInpaintTask(input: InpaintTaskInput): Promise<InpaintTask> {
  const { mask, image } = input;
  const area = interestedArea(mask, input.respectiveField);
  let crop: U8Image = cropImage(image, area);
  if (getShapeCeil(crop.height, crop.width) < INPAINT_SHAPE_CEIL && input.upscale) crop = await input.upscale(crop);
  crop = setImageShapeCeil(crop, INPAINT_SHAPE_CEIL);
  const cropMask = up255(resampleLanczos(cropImage(mask, area), crop.width, crop.height), CROP_MASK_THRESHOLD);
  const fill = input.denoise > FILL_DENOISE_THRESHOLD ? fooocusFill(crop, cropMask) : crop;
  return { area, image: crop, mask: cropMask, fill, original: image, softMask: morphologicalOpen(mask) };
}
