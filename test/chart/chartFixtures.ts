/**
 * What the chart tests share: the value sets CI renders the chart with, the entrypoint
 * commands (one source of truth for the README, the Dockerfiles and the chart), and which
 * config schema each entrypoint parses its environment with.
 */
import { fileURLToPath } from 'node:url';
import type { z } from 'zod';
import { apiEnvSchema } from '../../services/api/config.ts';
import * as migrateModule from '../../services/api/migrate.ts';
import { scalerEnvSchema } from '../../services/scaler/config.ts';
import { workerEnvSchema } from '../../services/worker/config.ts';
import { renderChart, type RenderedChart, type RenderOptions } from '../../scripts/helm-render/renderChart.ts';

export const ROOT = fileURLToPath(new URL('../../', import.meta.url));
export const CHART_DIR = `${ROOT}charts/fooocus-cloud`;

export interface ValueSet {
  name: string;
  files: string[];
  apiVersions?: string[];
}

/** Rendered and validated in CI (chart-testing's ci/ convention plus the documented examples). */
export const VALUE_SETS: ValueSet[] = [
  { name: 'defaults (try-out, bundled services)', files: ['ci/default-values.yaml'] },
  { name: 'external services', files: ['ci/external-values.yaml'] },
  { name: 'KEDA on', files: ['ci/keda-values.yaml'] },
  { name: 'KEDA with external NATS, models from S3', files: ['ci/keda-external-nats-values.yaml'] },
  { name: 'scaler instead of KEDA', files: ['ci/scaler-values.yaml'] },
  { name: 'ingress and ServiceMonitor on', files: ['ci/ingress-monitoring-values.yaml'], apiVersions: ['monitoring.coreos.com/v1'] },
  { name: 'example: production', files: ['examples/values-production.yaml'], apiVersions: ['monitoring.coreos.com/v1', 'keda.sh/v1alpha1'] },
  { name: 'example: CPU try-out', files: ['examples/values-cpu-tryout.yaml'] },
];

export function render(set: Pick<ValueSet, 'files' | 'apiVersions'>, extra: Partial<RenderOptions> = {}): RenderedChart {
  return renderChart({
    chartDir: CHART_DIR,
    valuesFiles: set.files.map((f) => `${CHART_DIR}/${f}`),
    apiVersions: set.apiVersions,
    releaseName: 'fooocus',
    namespace: 'fooocus',
    ...extra,
  });
}

/** The commands the README documents; Dockerfiles and chart must use exactly these. */
export const ENTRYPOINTS = {
  api: ['node', '--import', 'tsx', 'services/api/main.ts'],
  worker: ['node', '--import', 'tsx', 'services/worker/main.ts'],
  migrate: ['node', '--import', 'tsx', 'services/api/migrate.ts'],
  scaler: ['node', '--import', 'tsx', 'services/scaler/main.ts'],
} as const;

export type Deployable = keyof typeof ENTRYPOINTS;

/** A deployable's env schema, seen as a zod object whose fields can each parse a value. */
export type EnvSchema = z.ZodObject<Record<string, z.ZodType>>;

/**
 * The migration entrypoint's own schema, once services/api/migrate.ts exports it
 * (crossServiceContract.test.ts asks for that); until then only DATABASE_URL is accepted,
 * which is all the Job sets.
 */
export const MIGRATE_ENV_SCHEMA: EnvSchema | null =
  ((migrateModule as Record<string, unknown>).migrateEnvSchema as EnvSchema | undefined) ?? null;

/** The zod schema each entrypoint reads its environment with. */
export const ENV_SCHEMAS: Record<Deployable, EnvSchema> = {
  api: apiEnvSchema as unknown as EnvSchema,
  worker: workerEnvSchema as unknown as EnvSchema,
  migrate: MIGRATE_ENV_SCHEMA ?? (apiEnvSchema.pick({ DATABASE_URL: true }) as unknown as EnvSchema),
  scaler: scalerEnvSchema as unknown as EnvSchema,
};

/** Variables a deployable cannot run in the cluster without (the chart must always set them). */
export const REQUIRED_IN_CLUSTER: Record<Deployable, string[]> = {
  api: ['DATABASE_URL', 'NATS_URL', 'NATS_STREAM', 'NATS_CONSUMER', 'S3_BUCKET', 'PORT'],
  worker: ['DATABASE_URL', 'NATS_URL', 'NATS_STREAM', 'NATS_CONSUMER', 'S3_BUCKET', 'MODELS_DIR', 'ENGINE_CACHE_DIR', 'ENGINE_PROVIDER', 'WORKER_ID', 'SHUTDOWN_GRACE_MS', 'METRICS_PORT'],
  migrate: ['DATABASE_URL'],
  scaler: ['WORKER_DEPLOYMENTS', 'KUBE_NAMESPACE', 'DATABASE_URL', 'NATS_URL', 'QUEUE_SOURCE'],
};

/** Containers of every workload (Deployment, StatefulSet, Job, Pod) in rendered manifests. */
export function containersOf(obj: Record<string, any>): { kind: 'container' | 'initContainer'; container: Record<string, any> }[] {
  const spec = obj.kind === 'Pod' ? obj.spec : obj.spec?.template?.spec;
  if (!spec) return [];
  return [
    ...(spec.initContainers ?? []).map((c: Record<string, any>) => ({ kind: 'initContainer' as const, container: c })),
    ...(spec.containers ?? []).map((c: Record<string, any>) => ({ kind: 'container' as const, container: c })),
  ];
}

export function deployableOf(container: Record<string, any>): Deployable | null {
  const cmd = JSON.stringify([...(container.command ?? []), ...(container.args ?? [])]);
  for (const [name, ep] of Object.entries(ENTRYPOINTS)) if (cmd === JSON.stringify(ep)) return name as Deployable;
  return null;
}
