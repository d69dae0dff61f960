/**
 * GET /healthz (liveness: the process serves HTTP) and GET /readyz (readiness), no auth.
 *
 * /readyz runs every readiness check with a 2 s timeout each. A failing critical check (the
 * task store: without Postgres nothing can be accepted) makes it 503; a failing non-critical
 * one (dispatch, events: the outbox keeps accepted tasks until NATS returns,
 * reliability.md case 8) keeps 200 but reports `"status": "degraded"`. While draining for
 * shutdown it is 503 so the load balancer stops sending new requests.
 */
import type { Request, Response } from 'express';
import type { ApiContext } from '../http/apiContext.ts';
import type { RouteGroup } from '../http/routeTable.ts';

const CHECK_TIMEOUT_MS = 2_000;

export function healthRoutes(ctx: ApiContext, state: { draining: () => boolean }): RouteGroup {
  function healthz(_req: Request, res: Response): void {
    res.json({ status: 'ok' });
  }

  async function readyz(_req: Request, res: Response): Promise<void> {
    const results = await Promise.all(
      ctx.readiness.map(async (c) => {
        try {
          await withTimeout(c.check(), CHECK_TIMEOUT_MS);
          return { name: c.name, critical: c.critical, ok: true as const };
        } catch (err) {
          return { name: c.name, critical: c.critical, ok: false as const, error: (err as Error)?.message ?? String(err) };
        }
      }),
    );
    const checks = Object.fromEntries(results.map((r) => [r.name, r.ok ? 'ok' : `failed: ${r.error}`]));
    if (state.draining()) {
      res.status(503).json({ status: 'draining', checks });
      return;
    }
    const criticalDown = results.some((r) => !r.ok && r.critical);
    const degraded = results.some((r) => !r.ok);
    res.status(criticalDown ? 503 : 200).json({ status: criticalDown ? 'unavailable' : degraded ? 'degraded' : 'ok', checks });
  }

  return {
    routes: [
      { method: 'get', path: '/healthz', style: 'problem', auth: false, handlers: [healthz] },
      { method: 'get', path: '/readyz', style: 'problem', auth: false, handlers: [readyz] },
    ],
  };
}

function withTimeout<T>(p: Promise<T>, ms: number): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const t = setTimeout(() => reject(new Error(`timed out after ${ms} ms`)), ms);
    p.then(
      (v) => {
        clearTimeout(t);
        resolve(v);
      },
      (e) => {
        clearTimeout(t);
        reject(e);
      },
    );
  });
}
