import { describe, expect, it } from 'vitest';
import { storageEnvSchema } from '../../services/config/storageConfig.ts';
import { render, VALUE_SETS, type Deployable } from './chartFixtures.ts';
import { checkEnvContract } from './envContract.ts';

describe('chart env vars match the services’ config schemas', () => {
  for (const set of VALUE_SETS) {
    it(`${set.name}: every env name is a schema key, required ones are set, values parse`, () => {
      const { manifests } = render(set);
      const { problems, uses } = checkEnvContract(manifests.map((m) => m.object));
      expect(problems).toEqual([]);
      const seen = new Set<Deployable>(uses.map((u) => u.deployable));
      expect(seen.has('api') && seen.has('worker') && seen.has('migrate')).toBe(true);
    });
  }

  it('API and workers get identical storage and dispatch settings (same database, stream, consumer config, bucket)', () => {
    for (const set of VALUE_SETS) {
      const { uses } = checkEnvContract(render(set).manifests.map((m) => m.object));
      const api = uses.find((u) => u.deployable === 'api')!.env;
      const worker = uses.find((u) => u.deployable === 'worker')!.env;
      for (const key of Object.keys(storageEnvSchema.shape)) expect(worker[key], `${set.name}: ${key}`).toBe(api[key]);
      expect(api.ACK_WAIT_MS, set.name).toBeDefined();
    }
  });

  it('scaler values: the scaler container is checked against its own schema', () => {
    const { uses } = checkEnvContract(render({ files: ['ci/scaler-values.yaml'] }).manifests.map((m) => m.object));
    const scaler = uses.find((u) => u.deployable === 'scaler');
    expect(scaler?.env.WORKER_DEPLOYMENTS).toBe('fooocus-fooocus-cloud-worker');
    expect(scaler?.env.QUEUE_SOURCE).toBe('postgres');
  });

  it('fails when a variable is renamed in a manifest (as after renaming it in a schema)', () => {
    const objects = render({ files: ['ci/default-values.yaml'] }).manifests.map((m) => structuredClone(m.object));
    const api = objects.find((o) => o.kind === 'Deployment' && o.metadata.name.endsWith('-api'))!;
    const port = api.spec.template.spec.containers[0].env.find((e: { name: string }) => e.name === 'PORT');
    port.name = 'API_PORT';
    const { problems } = checkEnvContract(objects);
    expect(problems).toContain('Deployment/fooocus-fooocus-cloud-api container api: API_PORT is not a key of the api config schema');
    expect(problems).toContain('Deployment/fooocus-fooocus-cloud-api container api: PORT is required in a cluster install but not set');
  });

  it('fails when a value does not parse with the schema', () => {
    const objects = render({ files: ['ci/default-values.yaml'] }).manifests.map((m) => structuredClone(m.object));
    const worker = objects.find((o) => o.kind === 'Deployment' && o.metadata.name.endsWith('-worker'))!;
    worker.spec.template.spec.containers[0].env.find((e: { name: string }) => e.name === 'ENGINE_PROVIDER').value = 'tensorrt';
    const { problems } = checkEnvContract(objects);
    expect(problems.some((p) => p.includes('ENGINE_PROVIDER="tensorrt" does not parse'))).toBe(true);
  });

  it('fails when a secretKeyRef names a key the rendered Secret lacks', () => {
    const objects = render({ files: ['ci/default-values.yaml'] }).manifests.map((m) => structuredClone(m.object));
    const api = objects.find((o) => o.kind === 'Deployment' && o.metadata.name.endsWith('-api'))!;
    api.spec.template.spec.containers[0].env.find((e: { name: string }) => e.name === 'DATABASE_URL').valueFrom.secretKeyRef.key = 'DB_URL';
    expect(checkEnvContract(objects).problems.some((p) => p.includes('refers to key DB_URL'))).toBe(true);
  });

  it('fails when a chart image runs a command that is not a documented entrypoint', () => {
    const objects = render({ files: ['ci/default-values.yaml'] }).manifests.map((m) => structuredClone(m.object));
    const worker = objects.find((o) => o.kind === 'Deployment' && o.metadata.name.endsWith('-worker'))!;
    worker.spec.template.spec.containers[0].command = ['node', '--import', 'tsx', 'services/worker/index.ts'];
    expect(checkEnvContract(objects).problems.some((p) => p.includes('not a documented entrypoint'))).toBe(true);
  });
});
