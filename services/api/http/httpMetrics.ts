/**
 * Request metrics (ecosystem.md A13): fooocus_http_requests_total{route,method,code} and
 * fooocus_http_request_duration_seconds{route,method}. `route` is the declared route pattern
 * (`/tasks/:task_id`), never the raw path, so label cardinality stays bounded; requests that
 * matched no route count as `unmatched`. Metrics are created on the injected registry (one
 * per test), reusing an existing metric of the same name when the registry already has it.
 */
import type { NextFunction, Request, Response } from 'express';
import { Counter, Histogram, type Registry } from 'prom-client';

export function getOrCreateCounter<T extends string>(registry: Registry, name: string, help: string, labelNames: readonly T[]): Counter<T> {
  const existing = registry.getSingleMetric(name);
  if (existing) return existing as Counter<T>;
  return new Counter<T>({ name, help, labelNames, registers: [registry] });
}

export function getOrCreateHistogram<T extends string>(
  registry: Registry,
  name: string,
  help: string,
  labelNames: readonly T[],
  buckets: number[],
): Histogram<T> {
  const existing = registry.getSingleMetric(name);
  if (existing) return existing as Histogram<T>;
  return new Histogram<T>({ name, help, labelNames, buckets, registers: [registry] });
}

export function httpMetrics(registry: Registry) {
  const requests = getOrCreateCounter(
    registry,
    'fooocus_http_requests_total',
    'HTTP requests answered by the API, by declared route pattern, method and status code.',
    ['route', 'method', 'code'],
  );
  const duration = getOrCreateHistogram(
    registry,
    'fooocus_http_request_duration_seconds',
    'Time from request arrival to the end of the response (sync generation and SSE streams included), by route and method.',
    ['route', 'method'],
    [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300],
  );
  return (req: Request, res: Response, next: NextFunction) => {
    const start = process.hrtime.bigint();
    res.once('close', () => {
      const route = req.route?.path ? String(req.route.path) : 'unmatched';
      const method = req.method;
      requests.inc({ route, method, code: String(res.statusCode) });
      duration.observe({ route, method }, Number(process.hrtime.bigint() - start) / 1e9);
    });
    next();
  };
}
