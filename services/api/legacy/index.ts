/**
 * The Fooocus-API (old mrhan1993/Fooocus-API) compatibility surface as one route group
 * (api-contract §8): generation routes (v1 JSON text-to-image, v2 JSON, v1 multipart), job
 * routes, /ping and /files. Registered by createApp next to the FooocusAPI routes; see
 * docs/compat.md "Fooocus-API (old) routes" for what is supported and the deviations.
 */
import type { ApiContext } from '../http/apiContext.ts';
import type { RouteGroup } from '../http/routeTable.ts';
import { legacyGenerationRoutes } from './generationRoutes.ts';
import { legacyJobRoutes } from './jobRoutes.ts';

export function legacyRoutes(ctx: ApiContext): RouteGroup {
  return { routes: [...legacyGenerationRoutes(ctx), ...legacyJobRoutes(ctx)] };
}
