/**
 * GET /metrics — Prometheus text exposition of the API's registry (no auth: scraped from
 * inside the cluster by the ServiceMonitor; keep it off the public ingress).
 */
import type { Request, Response } from 'express';
import type { ApiContext } from '../http/apiContext.ts';
import type { RouteGroup } from '../http/routeTable.ts';

export function metricsRoutes(ctx: ApiContext): RouteGroup {
  async function metrics(_req: Request, res: Response): Promise<void> {
    res.type(ctx.registry.contentType).send(await ctx.registry.metrics());
  }
  return { routes: [{ method: 'get', path: '/metrics', style: 'problem', auth: false, handlers: [metrics] }] };
}
