/**
 * The Grafana dashboard shipped with the chart: valid JSON, every query on a metric the
 * services export (the fooocus_* names agreed in the project, plus the scaler's own, read
 * from its source), and every agreed metric shown somewhere.
 */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { CHART_DIR, ROOT } from './chartFixtures.ts';

/** The metrics the API and worker export (project contract), with their Prometheus type. */
export const SERVICE_METRICS: Record<string, 'counter' | 'gauge' | 'histogram'> = {
  fooocus_tasks_submitted_total: 'counter',
  fooocus_tasks_finished_total: 'counter',
  fooocus_task_duration_seconds: 'histogram',
  fooocus_queue_depth: 'gauge',
  fooocus_engine_step_seconds: 'histogram',
  fooocus_webhook_deliveries_total: 'counter',
  fooocus_http_requests_total: 'counter',
  fooocus_http_request_duration_seconds: 'histogram',
  fooocus_worker_busy: 'gauge',
};

function scalerMetrics(): string[] {
  const src = readFileSync(`${ROOT}services/scaler/scalerMetrics.ts`, 'utf8');
  return [...src.matchAll(/name: '(fooocus_[a-z_]+)'/g)].map((m) => m[1]);
}

interface Panel {
  type: string;
  title: string;
  datasource?: { uid: string };
  targets?: { expr: string; datasource?: { uid: string } }[];
  gridPos: { x: number; y: number; w: number; h: number };
}

describe('Grafana dashboard', () => {
  const dash = JSON.parse(readFileSync(`${CHART_DIR}/dashboards/fooocus-cloud.json`, 'utf8')) as { uid: string; panels: Panel[]; templating: { list: { name: string }[] } };
  const queries = dash.panels.flatMap((p) => (p.targets ?? []).map((t) => ({ panel: p.title, expr: t.expr })));

  it('has a stable uid, a data source variable, and every query uses it', () => {
    expect(dash.uid).toBe('fooocus-cloud');
    expect(dash.templating.list.map((v) => v.name)).toEqual(['datasource', 'namespace']);
    for (const p of dash.panels.filter((p) => p.type !== 'row')) expect(p.datasource?.uid, p.title).toBe('${datasource}');
  });

  it('queries only metrics the services export, with histogram series only on histograms', () => {
    const known = new Set([...Object.keys(SERVICE_METRICS), ...scalerMetrics()]);
    expect(scalerMetrics().length).toBeGreaterThan(0);
    for (const q of queries) {
      for (const [, name, suffix] of q.expr.matchAll(/\b(fooocus_[a-z_]+?)(_bucket|_sum|_count)?\b(?=[{[(\s)]|$)/g)) {
        const base = known.has(name + (suffix ?? '')) ? name + (suffix ?? '') : name;
        expect(known.has(base), `${q.panel}: ${name}${suffix ?? ''}`).toBe(true);
        if (suffix && base === name) expect(SERVICE_METRICS[name], `${q.panel}: ${name}${suffix}`).toBe('histogram');
      }
      expect(q.expr.split('(').length, `${q.panel}: parentheses`).toBe(q.expr.split(')').length);
      expect(q.expr.split('{').length, `${q.panel}: braces`).toBe(q.expr.split('}').length);
      expect(q.expr, `${q.panel}: namespace filter`).toContain('namespace=~"$namespace"');
    }
  });

  it('shows every metric the services export', () => {
    const all = queries.map((q) => q.expr).join('\n');
    for (const m of Object.keys(SERVICE_METRICS)) expect(all, m).toMatch(new RegExp(`\\b${m}(_bucket|_sum|_count)?\\b`));
  });

  it('lays panels on the 24-column grid without overlaps', () => {
    const cells = new Set<string>();
    for (const p of dash.panels) {
      expect(p.gridPos.x + p.gridPos.w, p.title).toBeLessThanOrEqual(24);
      for (let x = p.gridPos.x; x < p.gridPos.x + p.gridPos.w; x++) {
        for (let y = p.gridPos.y; y < p.gridPos.y + p.gridPos.h; y++) {
          expect(cells.has(`${x},${y}`), `${p.title} overlaps at ${x},${y}`).toBe(false);
          cells.add(`${x},${y}`);
        }
      }
    }
  });
});
