/**
 * Engine.prepareInpaint's body: Fooocus' image side of an inpaint task, in
 * Fooocus' order (F modules/async_worker.py apply_image_input, apply_outpaint,
 * apply_inpaint; pipeline.md §3.3–3.4), once per task:
 *
 *  1. the mask: the drawn one (FooocusAPI sends none: zeros), the upload merged
 *     (resampled, channel mean > 127, max), erode/dilate, invert;
 *  2. Fooocus runs the inpaint goal only when that mask has a pixel > 127 or an
 *     outpaint side is selected: otherwise null (the caller runs text-to-image,
 *     as Fooocus does);
 *  3. outpaint padding;
 *  4. the InpaintWorker constructor (inpaintTask.ts): interested area, crop,
 *     ESRGAN below shape ceil 1024, set_image_shape_ceil 1024, the fill, the soft
 *     blend mask.
 *
 * It runs in the engine thread: erode/dilate, the fill's repeated box blurs and
 * `morphological_open` are seconds of synchronous work on a large canvas.
 * Aborts between the stages (the upscaler between its tiles).
 */
import type { InpaintPrepareRequest, PixelImage, PreparedInpaint } from '../job.ts';
import { EngineInputError } from '../io/engineErrors.ts';
import type { U8Image } from '../image/resampleLanczos.ts';
import { applyOutpaint } from './outpaint.ts';
import { prepareInpaintMask, prepareInpaintTask } from './inpaintTask.ts';

/** Fooocus' goal test: `np.any(inpaint_mask > 127) or len(outpaint_selections) > 0`. */
export function inpaintRuns(mask: Uint8Array, outpaintSides: number): boolean {
  if (outpaintSides > 0) return true;
  for (let i = 0; i < mask.length; i++) if (mask[i] > 127) return true;
  return false;
}

export interface PrepareCanvasOptions {
  /** Fooocus perform_upscale (ESRGAN ×4) of a small crop. */
  upscale: (crop: U8Image) => Promise<U8Image>;
  signal?: AbortSignal;
}

export async function prepareInpaintCanvas(req: InpaintPrepareRequest, opts: PrepareCanvasOptions): Promise<PreparedInpaint | null> {
  const { image } = req;
  const { width, height } = image;
  if (image.channels !== 3 || image.data.length !== width * height * 3 || width < 1 || height < 1) {
    throw new EngineInputError(`inpaint image must be HWC RGB bytes of a positive size, got ${width}×${height}×${image.channels} with ${image.data.length} bytes`);
  }
  if (req.mask && req.mask.length !== width * height) throw new EngineInputError(`inpaint mask has ${req.mask.length} bytes, expected ${width}×${height}`);
  if (req.upload && req.upload.data.length !== req.upload.width * req.upload.height * req.upload.channels) {
    throw new EngineInputError('inpaint mask upload: byte count does not match its size');
  }
  if (!(req.denoise > 0 && req.denoise <= 1)) throw new EngineInputError(`inpaint strength must be in (0, 1], got ${req.denoise}`);
  if (!(req.respectiveField >= 0 && req.respectiveField <= 1)) throw new EngineInputError(`inpaint respective field must be in 0..1, got ${req.respectiveField}`);
  const drawn: U8Image = { data: req.mask ?? new Uint8Array(width * height), width, height, channels: 1 };
  const mask = prepareInpaintMask(drawn, { upload: req.upload, erodeOrDilate: req.erodeOrDilate, invert: req.invert });
  const sides = req.outpaint?.sides ?? [];
  if (!inpaintRuns(mask.data, sides.length)) return null;
  opts.signal?.throwIfAborted();
  const canvas = sides.length > 0 ? applyOutpaint(image, mask, sides, req.outpaint?.distances) : { image: image as U8Image, mask };
  opts.signal?.throwIfAborted();
  const task = await prepareInpaintTask({
    image: canvas.image,
    mask: canvas.mask,
    respectiveField: req.respectiveField,
    denoise: req.denoise,
    upscale: async (crop) => {
      opts.signal?.throwIfAborted();
      return opts.upscale(crop);
    },
  });
  opts.signal?.throwIfAborted();
  const plain = (i: U8Image): PixelImage => ({ data: i.data, width: i.width, height: i.height, channels: i.channels });
  return {
    area: [...task.area] as [number, number, number, number],
    image: plain(task.image),
    mask: task.mask.data,
    fill: task.fill.data,
    original: plain(task.original),
    softMask: task.softMask.data,
  };
}
