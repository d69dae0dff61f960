/**
 * The scaler's small HTTP surface: GET /inventory (the worker inventory as JSON), GET /metrics
 * (Prometheus) and GET /healthz (200 while ticks succeed; 503 once none has for five poll
 * intervals, so a scaler that cannot reach the API server or the queue gets restarted).
 */
import express, { type Express } from 'express';
import type { Registry } from 'prom-client';
import type { ScalerLoop } from './scalerLoop.ts';

export interface ScalerHttpOptions {
  loop: Pick<ScalerLoop, 'inventory' | 'lastSuccessAt' | 'lastError'>;
  registry: Registry;
  pollIntervalMs: number;
  startedAt: number;
  clock?: () => number;
}

export function createScalerApp(o: ScalerHttpOptions): Express {
  const app = express();
  const now = o.clock ?? Date.now;
  app.get('/healthz', (_req, res) => {
    const last = o.loop.lastSuccessAt ?? o.startedAt;
    const stale = now() - last > 5 * o.pollIntervalMs + 30_000;
    res.status(stale ? 503 : 200).json({ ok: !stale, lastSuccessAt: o.loop.lastSuccessAt ? new Date(o.loop.lastSuccessAt).toISOString() : null, lastError: o.loop.lastError });
  });
  app.get('/inventory', (_req, res) => {
    const inv = o.loop.inventory();
    if (!inv) {
      res.status(503).json({ error: 'no inventory yet: the first scaler tick has not completed' });
      return;
    }
    res.json(inv);
  });
  app.get('/metrics', async (_req, res) => {
    res.type(o.registry.contentType).send(await o.registry.metrics());
  });
  return app;
}
