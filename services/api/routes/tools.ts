/**
 * POST /v1/tools/generate_mask and POST /v1/tools/describe-image (api-contract §1.3, §1.4).
 *
 * Both need models the engine does not have yet: background removal / segmentation
 * (u2net family, isnet, SAM + GroundingDINO) for masks, and BLIP / WD14 for descriptions.
 * Rather than invent output, the routes validate the request exactly as FooocusAPI does
 * (same body schema, 422 with pydantic-shaped `detail` for a bad body, 403 for a bad key) and
 * then answer **501 Not Implemented** as problem+json whose `detail` names what is missing.
 * A client can tell "not available here" from "bad request". Documented in docs/compat.md.
 */
import type { Request, Response } from 'express';
import { z } from 'zod';
import { fromZodError } from '../../core/errors.ts';
import { CLOTH_CATEGORIES, MASK_MODELS, SAM_MODELS } from '../../core/request/fooocusConstants.ts';
import type { ApiContext } from '../http/apiContext.ts';
import { HttpError } from '../http/httpError.ts';
import { jsonBody, missingBody } from '../http/jsonBody.ts';
import type { RouteGroup } from '../http/routeTable.ts';

const num = (min: number, max: number) => z.coerce.number().min(min).max(max);

export const generateMaskRequestSchema = z
  .object({
    image: z.string().describe('Image: http(s) URL or base64 (a data:image/… prefix is allowed). Required.'),
    mask_model: z.enum(MASK_MODELS).default('isnet-general-use').describe('Mask model. Default isnet-general-use.'),
    cloth_category: z.enum(CLOTH_CATEGORIES).default('full').describe('For u2net_cloth_seg: full, upper or lower. Default full.'),
    dino_prompt_text: z.string().default('').describe('SAM only: what to detect. Default "".'),
    sam_model: z.enum(SAM_MODELS).default('vit_b').describe('SAM model. Default vit_b.'),
    box_threshold: num(0, 1).default(0.3).describe('0..1. Default 0.3.'),
    text_threshold: num(0, 1).default(0.25).describe('0..1. Default 0.25.'),
    sam_max_detections: z.coerce.number().int().min(0).max(10).default(0).describe('0..10, 0 = all. Default 0.'),
    dino_erode_or_dilate: num(-64, 64).default(0).describe('-64..64. Default 0.'),
    dino_debug: z.boolean().default(false).describe('Default false.'),
  })
  .describe('FooocusAPI GenerateMaskRequest.');

export const describeImageRequestSchema = z
  .object({
    image: z.string().describe('Image: http(s) URL or base64. Required.'),
    image_type: z.enum(['Photo', 'Anime']).default('Photo').describe('Photo (BLIP) or Anime (WD14 tagger). Default Photo.'),
  })
  .describe('FooocusAPI DescribeImageRequest (JSON, not multipart).');

export function toolsRoutes(ctx: ApiContext): RouteGroup {
  const validate = (schema: z.ZodType) => (req: Request) => {
    if (req.body === undefined) throw missingBody();
    const r = schema.safeParse(req.body, { reportInput: true });
    if (!r.success) throw fromZodError(r.error);
  };
  const validateMask = validate(generateMaskRequestSchema);
  const validateDescribe = validate(describeImageRequestSchema);

  function generateMask(req: Request, _res: Response): void {
    validateMask(req);
    throw new HttpError(
      'not-implemented',
      501,
      'generate_mask needs segmentation models (u2net/isnet background removal, SAM with GroundingDINO) that this server does not provide yet; nothing was generated.',
      { extensions: { missing_capability: 'segmentation' } },
    );
  }
  function describeImage(req: Request, _res: Response): void {
    validateDescribe(req);
    throw new HttpError(
      'not-implemented',
      501,
      'describe-image needs captioning models (BLIP for Photo, WD14 tagger for Anime) that this server does not provide yet; nothing was described.',
      { extensions: { missing_capability: 'captioning' } },
    );
  }
  const beforeAuth = jsonBody({ limit: ctx.config.MAX_BODY_BYTES });
  return {
    routes: [
      { method: 'post', path: '/v1/tools/generate_mask', style: 'fooocus', auth: true, beforeAuth, handlers: [generateMask] },
      { method: 'post', path: '/v1/tools/describe-image', style: 'fooocus', auth: true, beforeAuth, handlers: [describeImage] },
    ],
  };
}
