/**
 * GET /outputs/{dir}/{file} and GET /inputs/{file} — no auth (api-contract §6.3, §6.4).
 *
 * 1. Missing object ⇒ 404 (empty body, as FooocusAPI).
 * 2. Outputs only: the name must end in png|jpg|jpeg|webp, else 404 (so stray files are never
 *    served).
 * 3. An exact `Accept: image/png|jpeg|jpg|webp` converts (sharp); anything else (a browser's
 *    Accept list, `*\/*`, none) serves the stored bytes with their content type and an ETag.
 *
 * Deviations: no Accept header serves the file (FooocusAPI: 500); `image/jpg` converts and
 * answers `image/jpeg` (FooocusAPI: 200 with an empty body). Output keys may have more than
 * two segments (`outputs/<date>/<task>/<file>`), so the route takes any depth.
 * Keys go through the BlobStore, whose key check refuses traversal (`..`, absolute paths).
 */
import type { Request, Response } from 'express';
import type { ApiContext } from '../http/apiContext.ts';
import type { RouteGroup } from '../http/routeTable.ts';
import { contentTypeOf, convertImage, parseImageAccept } from '../responses/imageConversion.ts';

const IMAGE_NAME = /\.(png|jpg|jpeg|webp)$/i;

/** `GET /outputs/*path`'s handler; Fooocus-API's `/files/*path` (services/api/legacy) reuses it. */
export function outputFileHandler(ctx: ApiContext) {
  return (req: Request, res: Response) => serveBlob(ctx, req, res, ['outputs', ...segments(req.params.path)].join('/'), true);
}

const segments = (p: unknown) => (Array.isArray(p) ? p.map(String) : [String(p)]);

async function serveBlob(ctx: ApiContext, req: Request, res: Response, key: string, requireImageName: boolean): Promise<void> {
  let blob: Awaited<ReturnType<typeof ctx.blobs.get>>;
  try {
    blob = await ctx.blobs.get(key);
  } catch (err) {
    if ((err as Error)?.name === 'InvalidBlobKeyError') blob = null;
    else throw err;
  }
  if (!blob || (requireImageName && !IMAGE_NAME.test(key))) {
    res.status(404).end();
    return;
  }
  const ext = parseImageAccept(req.get('accept'), { unknownAs: null });
  if (ext) {
    const converted = await convertImage(blob.bytes, ext);
    res.status(200).type(contentTypeOf(ext)).set('Cache-Control', 'no-cache').send(converted);
    return;
  }
  res.status(200).type(blob.contentType).set('Cache-Control', 'public, max-age=3600').send(Buffer.from(blob.bytes));
}

export function filesRoutes(ctx: ApiContext): RouteGroup {
  return {
    routes: [
      {
        method: 'get',
        path: '/outputs/*path',
        style: 'fooocus',
        auth: false,
        handlers: [outputFileHandler(ctx)],
      },
      {
        method: 'get',
        path: '/inputs/:file_name',
        style: 'fooocus',
        auth: false,
        handlers: [(req: Request, res: Response) => serveBlob(ctx, req, res, `inputs/${req.params.file_name}`, false)],
      },
    ],
  };
}
