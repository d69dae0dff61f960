/**
 * The contract between the chart and the services' config schemas, checked on rendered
 * manifests: every container that runs one of our entrypoints may only set environment
 * variables that are keys of that deployable's zod schema (a renamed variable fails CI), must
 * set the ones a cluster install needs, and the values it sets, with secret references
 * resolved against the Secrets the chart renders, must parse with the schema itself.
 */
import { CHART_DIR, containersOf, deployableOf, ENV_SCHEMAS, REQUIRED_IN_CLUSTER, type Deployable } from './chartFixtures.ts';
import { parseValuesYaml } from '../../scripts/helm-render/renderChart.ts';
import { readFileSync } from 'node:fs';

export interface EnvUse {
  workload: string;
  container: string;
  deployable: Deployable;
  env: Record<string, string>;
}

/** Stand-ins for values held in Secrets the chart does not render (existingSecret). */
const PLACEHOLDERS: Record<string, string> = {
  DATABASE_URL: 'postgres://fooocus:secret@postgres.example:5432/fooocus',
  NATS_URL: 'nats://nats.example:4222',
  API_KEYS: 'key-one,key-two',
  API_KEY_SHA256: 'a'.repeat(64),
  WEBHOOK_SECRET: 'whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw',
  S3_ACCESS_KEY_ID: 'AKIAEXAMPLE',
  S3_SECRET_ACCESS_KEY: 'secret',
};

function chartImageRepos(): string[] {
  const v = parseValuesYaml(readFileSync(`${CHART_DIR}/values.yaml`, 'utf8'), 'values.yaml') as any;
  return [v.image.api.repository, v.image.worker.repository];
}

export function checkEnvContract(manifests: Record<string, any>[]): { problems: string[]; uses: EnvUse[] } {
  const problems: string[] = [];
  const uses: EnvUse[] = [];
  const secrets = new Map<string, Record<string, string>>();
  for (const m of manifests) {
    if (m.kind !== 'Secret') continue;
    const data: Record<string, string> = { ...(m.stringData ?? {}) };
    for (const [k, v] of Object.entries((m.data ?? {}) as Record<string, string>)) data[k] = Buffer.from(v, 'base64').toString('utf8');
    secrets.set(m.metadata.name, data);
  }
  const repos = chartImageRepos();
  for (const m of manifests) {
    for (const { container: c } of containersOf(m)) {
      const where = `${m.kind}/${m.metadata?.name} container ${c.name}`;
      const deployable = deployableOf(c);
      const ours = repos.some((r) => String(c.image ?? '').startsWith(`${r}:`));
      if (!deployable) {
        const isHelmTest = m.kind === 'Pod' && m.metadata?.annotations?.['helm.sh/hook'] === 'test';
        if (ours && !isHelmTest) problems.push(`${where}: runs a chart image with a command that is not a documented entrypoint: ${JSON.stringify(c.command)}`);
        continue;
      }
      const schema = ENV_SCHEMAS[deployable];
      const keys = new Set(Object.keys(schema.shape));
      if (c.envFrom) problems.push(`${where}: envFrom hides variable names from this check; list them under env`);
      const env: Record<string, string> = {};
      for (const e of (c.env ?? []) as Record<string, any>[]) {
        if (!keys.has(e.name)) {
          problems.push(`${where}: ${e.name} is not a key of the ${deployable} config schema`);
          continue;
        }
        if (e.name in env) problems.push(`${where}: ${e.name} is set twice`);
        if (typeof e.value === 'string') {
          const r = schema.shape[e.name].safeParse(e.value);
          if (!r.success) problems.push(`${where}: ${e.name}=${JSON.stringify(e.value)} does not parse: ${r.error.issues[0]?.message}`);
          env[e.name] = e.value;
        } else if (e.valueFrom?.secretKeyRef) {
          const ref = e.valueFrom.secretKeyRef;
          const rendered = secrets.get(ref.name);
          if (rendered && !(ref.key in rendered) && !ref.optional) problems.push(`${where}: ${e.name} refers to key ${ref.key} that Secret ${ref.name} does not have`);
          env[e.name] = rendered?.[ref.key] ?? PLACEHOLDERS[e.name] ?? 'placeholder';
        } else if (e.valueFrom?.fieldRef) {
          env[e.name] = e.valueFrom.fieldRef.fieldPath === 'metadata.namespace' ? 'fooocus' : 'fooocus-worker-5d8f9-abcde';
        } else {
          problems.push(`${where}: ${e.name} has neither a value nor a supported valueFrom`);
        }
      }
      for (const r of REQUIRED_IN_CLUSTER[deployable]) if (!(r in env)) problems.push(`${where}: ${r} is required in a cluster install but not set`);
      const parsed = schema.safeParse(env);
      if (!parsed.success) {
        for (const i of parsed.error.issues) problems.push(`${where}: the ${deployable} schema rejects the environment: ${i.path.join('.')}: ${i.message}`);
      }
      uses.push({ workload: `${m.kind}/${m.metadata?.name}`, container: c.name, deployable, env });
    }
  }
  return { problems, uses };
}
