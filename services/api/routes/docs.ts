/**
 * GET / → 307 /docs (FooocusAPI's RedirectResponse), GET /docs (a self-contained HTML page:
 * every route from the OpenAPI document, the problem types this API emits with an anchor per
 * type — the problem `type` URIs point here — and a link to the spec), GET /openapi.json.
 * No auth, no external scripts (Swagger UI and Redoc need a CDN; these machines have none).
 */
import type { Request, Response } from 'express';
import type { ApiContext } from '../http/apiContext.ts';
import { buildOpenApiDocument } from '../http/openApi.ts';
import { PROBLEM_TYPES } from '../http/problem.ts';
import type { RouteGroup } from '../http/routeTable.ts';

const VERSION = '0.1.0';

export function docsRoutes(ctx: ApiContext): RouteGroup {
  const spec = buildOpenApiDocument({ version: VERSION, serverUrl: ctx.publicBaseUrl });
  const specJson = JSON.stringify(spec);
  const page = renderDocsPage(spec);
  return {
    routes: [
      { method: 'get', path: '/', style: 'fooocus', auth: false, handlers: [(_req: Request, res: Response) => res.redirect(307, '/docs')] },
      { method: 'get', path: '/docs', style: 'fooocus', auth: false, handlers: [(_req: Request, res: Response) => res.type('html').send(page)] },
      {
        method: 'get',
        path: '/openapi.json',
        style: 'fooocus',
        auth: false,
        handlers: [(_req: Request, res: Response) => res.type('application/json').send(specJson)],
      },
    ],
  };
}

const esc = (s: string) => s.replace(/[&<>"]/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;' })[c] as string);

function renderDocsPage(spec: Record<string, unknown>): string {
  const paths = spec.paths as Record<string, Record<string, { summary?: string; description?: string; security?: unknown[]; parameters?: { name: string; in: string }[] }>>;
  const rows: string[] = [];
  for (const [path, ops] of Object.entries(paths)) {
    for (const [method, op] of Object.entries(ops)) {
      const params = (op.parameters ?? []).map((p) => `${esc(p.name)} <small>(${esc(p.in)})</small>`).join(', ');
      rows.push(
        `<tr><td><code>${method.toUpperCase()}</code></td><td><code>${esc(path)}</code></td><td>${op.security?.length ? 'X-API-KEY' : '—'}</td>` +
          `<td>${esc(op.summary ?? '')}${op.description ? `<br><small>${esc(op.description)}</small>` : ''}${params ? `<br><small>parameters: ${params}</small>` : ''}</td></tr>`,
      );
    }
  }
  const problems = Object.entries(PROBLEM_TYPES)
    .map(([name, p]) => `<tr id="problem-${name}"><td><code>/docs#problem-${name}</code></td><td>${p.status}</td><td>${esc(p.title)}</td></tr>`)
    .join('\n');
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>fooocus-cloud API</title>
<style>body{font-family:system-ui,sans-serif;max-width:70rem;margin:2rem auto;padding:0 1rem}table{border-collapse:collapse;width:100%}
td,th{border-bottom:1px solid #ddd;padding:.4rem;vertical-align:top;text-align:left}code{background:#f4f4f4;padding:0 .2rem}</style></head>
<body><h1>fooocus-cloud API</h1>
<p>FooocusAPI-compatible image generation. Machine-readable spec: <a href="/openapi.json">/openapi.json</a> (OpenAPI 3.1).
Authentication: header <code>X-API-KEY</code> when the server has keys; a missing or wrong key is <code>403 {"detail":"Forbidden"}</code>.</p>
<h2>Routes</h2><table><tr><th>Method</th><th>Path</th><th>Auth</th><th>What</th></tr>
${rows.join('\n')}
</table>
<h2>Problem types</h2><p>Routes that FooocusAPI does not have (and edge errors such as 413 or 501) answer <code>application/problem+json</code> (RFC 9457) with one of these <code>type</code> values.</p>
<table><tr><th>type</th><th>status</th><th>title</th></tr>
${problems}
</table></body></html>`;
}
