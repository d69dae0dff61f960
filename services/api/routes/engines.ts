/**
 * GET /v1/engines/all-models and GET /v1/engines/styles (api-contract §1 table rows 10–11).
 *
 * all-models rescans the model folders on every call, as FooocusAPI does, and answers
 * `{"model_filenames": [...], "lora_filenames": [...]}` with names relative to their folder.
 * styles answers the 279 legal style names in FooocusAPI's order (§7.6).
 */
import type { Request, Response } from 'express';
import type { ApiContext } from '../http/apiContext.ts';
import type { RouteGroup } from '../http/routeTable.ts';

export function enginesRoutes(ctx: ApiContext): RouteGroup {
  async function allModels(_req: Request, res: Response): Promise<void> {
    const { checkpoints, loras } = await ctx.models.list();
    res.json({ model_filenames: checkpoints, lora_filenames: loras });
  }
  function styles(_req: Request, res: Response): void {
    res.json(ctx.styles.names);
  }
  return {
    routes: [
      { method: 'get', path: '/v1/engines/all-models', style: 'fooocus', auth: true, handlers: [allModels] },
      { method: 'get', path: '/v1/engines/styles', style: 'fooocus', auth: true, handlers: [styles] },
    ],
  };
}
