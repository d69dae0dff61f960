import { describe, expect, it } from 'vitest';
import { validateManifests } from '../../scripts/helm-render/validateManifests.ts';
import { ChartRenderError } from '../../scripts/helm-render/renderChart.ts';
import { containersOf, render, VALUE_SETS } from './chartFixtures.ts';

type Obj = Record<string, any>;
const find = (objs: Obj[], kind: string, suffix: string): Obj | undefined => objs.find((o) => o.kind === kind && o.metadata.name.endsWith(suffix));
const kinds = (objs: Obj[]) => objs.map((o) => `${o.kind}/${o.metadata.name.replace('fooocus-fooocus-cloud-', '').replace('fooocus-fooocus-cloud', 'release')}`).sort();
const objects = (files: string[], apiVersions?: string[]) => render({ files, apiVersions }).manifests.map((m) => m.object);

describe('chart renders and validates against the Kubernetes schemas', () => {
  for (const set of VALUE_SETS) {
    it(`${set.name}: every manifest passes schema, unknown-field and naming checks`, async () => {
      const { manifests } = render(set);
      expect(manifests.length).toBeGreaterThan(5);
      expect(await validateManifests(manifests.map((m) => m.object))).toEqual([]);
    });
  }

  it('the validator catches a misplaced field, a wrong type and a bad name (it is not vacuous)', async () => {
    const bad = structuredClone(find(objects(['ci/default-values.yaml']), 'Deployment', '-api')!);
    bad.spec.template.spec.containers[0].resourcez = {};
    bad.spec.replicas = '2';
    bad.metadata.name = 'Fooocus_API';
    const problems = (await validateManifests([bad])).map((p) => p.message).join('\n');
    expect(problems).toContain('spec.template.spec.containers[0].resourcez: unknown field');
    expect(problems).toContain('spec/replicas must be integer');
    expect(problems).toContain('is not a DNS-1123 subdomain');
  });
});

describe('chart structure per value set', () => {
  it('defaults: bundled Postgres, NATS (JetStream + monitoring) and MinIO; one worker; no autoscaler', () => {
    const objs = objects(['ci/default-values.yaml']);
    expect(kinds(objs)).toEqual(
      [
        'Deployment/api',
        'Deployment/worker',
        'Job/migrate',
        'PersistentVolumeClaim/models',
        'Pod/test',
        'PodDisruptionBudget/api',
        'PodDisruptionBudget/worker',
        'Secret/migrate',
        'Secret/release',
        'Service/api',
        'Service/minio',
        'Service/nats',
        'Service/postgres',
        'Service/worker',
        'ServiceAccount/release',
        'StatefulSet/minio',
        'StatefulSet/nats',
        'StatefulSet/postgres',
      ].sort(),
    );
    const nats = find(objs, 'StatefulSet', '-nats')!;
    expect(nats.spec.template.spec.containers[0].args).toEqual(expect.arrayContaining(['--jetstream', '--http_port', '8222']));
    expect(find(objs, 'Deployment', '-worker')!.spec.replicas).toBe(1);
  });

  it('every resource carries the recommended app.kubernetes.io labels', () => {
    for (const set of VALUE_SETS) {
      for (const o of objects(set.files, set.apiVersions)) {
        const l = o.metadata.labels ?? {};
        for (const k of ['app.kubernetes.io/name', 'app.kubernetes.io/instance', 'app.kubernetes.io/managed-by', 'app.kubernetes.io/component', 'app.kubernetes.io/version', 'helm.sh/chart']) {
          expect(l[k], `${o.kind}/${o.metadata.name} ${k}`).toBeTruthy();
        }
        expect(l['app.kubernetes.io/managed-by']).toBe('Helm');
      }
    }
  });

  it('worker: GPU limit, GPU toleration, grace period longer than the drain, graph cache on the models volume', () => {
    const w = find(objects(['ci/default-values.yaml']), 'Deployment', '-worker')!;
    const pod = w.spec.template.spec;
    const c = pod.containers[0];
    expect(c.resources.limits['nvidia.com/gpu']).toBe(1);
    expect(pod.tolerations).toEqual([{ key: 'nvidia.com/gpu', operator: 'Exists', effect: 'NoSchedule' }]);
    const env = Object.fromEntries(c.env.map((e: Obj) => [e.name, e.value]));
    expect(pod.terminationGracePeriodSeconds * 1000).toBeGreaterThanOrEqual(Number(env.SHUTDOWN_GRACE_MS) + 10_000);
    expect(env.ENGINE_PROVIDER).toBe('cuda');
    expect(env.ENGINE_CACHE_DIR).toBe('/models/.onnx-cache');
    expect(c.volumeMounts).toContainEqual({ name: 'models', mountPath: '/models' });
    expect(pod.volumes).toContainEqual({ name: 'models', persistentVolumeClaim: { claimName: 'fooocus-fooocus-cloud-models' } });
    expect(c.image).toBe('ghcr.io/fooocus-cloud/fooocus-cloud-worker:0.1.0-cuda');
  });

  it('CPU try-out: CPU image and provider, no GPU resource, no GPU toleration', () => {
    const w = find(objects(['examples/values-cpu-tryout.yaml']), 'Deployment', '-worker')!;
    const c = w.spec.template.spec.containers[0];
    expect(c.image).toBe('ghcr.io/fooocus-cloud/fooocus-cloud-worker:0.1.0-cpu');
    expect(JSON.stringify(c.resources)).not.toContain('gpu');
    expect(w.spec.template.spec.tolerations).toBeUndefined();
    expect(c.env.find((e: Obj) => e.name === 'ENGINE_PROVIDER').value).toBe('cpu');
  });

  it('models synced from S3: an init container copies them into a pod-local volume, cache in an emptyDir', () => {
    const w = find(objects(['ci/keda-external-nats-values.yaml']), 'Deployment', '-worker')!;
    const pod = w.spec.template.spec;
    expect(pod.initContainers[0].command.slice(0, 3)).toEqual(['aws', 's3', 'sync']);
    expect(pod.initContainers[0].args).toEqual(['s3://fooocus/models/', '/models']);
    expect(pod.volumes).toContainEqual({ name: 'models', emptyDir: { sizeLimit: '100Gi' } });
    expect(pod.volumes).toContainEqual({ name: 'graph-cache', emptyDir: { sizeLimit: '50Gi' } });
  });

  it('KEDA: a ScaledObject on the JetStream consumer lag with scale to zero, no HPA for workers, replicas left to KEDA', () => {
    const objs = objects(['ci/keda-values.yaml']);
    const so = find(objs, 'ScaledObject', '-worker')!;
    expect(so.spec.minReplicaCount).toBe(0);
    expect(so.spec.scaleTargetRef.name).toBe('fooocus-fooocus-cloud-worker');
    expect(so.spec.triggers).toEqual([
      {
        type: 'nats-jetstream',
        metadata: {
          natsServerMonitoringEndpoint: 'fooocus-fooocus-cloud-nats.fooocus.svc:8222',
          account: '$G',
          stream: 'FOOOCUS_TASKS',
          consumer: 'fooocus-workers',
          lagThreshold: '1',
          activationLagThreshold: '0',
          useHttps: 'false',
        },
      },
    ]);
    expect(objs.filter((o) => o.kind === 'HorizontalPodAutoscaler')).toEqual([]);
    expect(find(objs, 'Deployment', '-worker')!.spec.replicas).toBeUndefined();
    const natsPolicy = find(objs, 'NetworkPolicy', '-nats')!;
    expect(JSON.stringify(natsPolicy.spec.ingress)).toContain('"kubernetes.io/metadata.name":"keda"');
  });

  it('scaler: Deployment, RBAC limited to the worker scale and pods, replicas left to the scaler, no ScaledObject', () => {
    const objs = objects(['ci/scaler-values.yaml']);
    const role = find(objs, 'Role', '-scaler')!;
    expect(role.rules).toEqual([
      { apiGroups: ['apps'], resources: ['deployments/scale'], resourceNames: ['fooocus-fooocus-cloud-worker'], verbs: ['get', 'update'] },
      { apiGroups: [''], resources: ['pods'], verbs: ['list', 'patch'] },
    ]);
    expect(find(objs, 'ClusterRole', '-scaler')!.rules).toEqual([{ apiGroups: [''], resources: ['nodes'], verbs: ['get'] }]);
    expect(find(objs, 'Deployment', '-worker')!.spec.replicas).toBeUndefined();
    expect(objs.some((o) => o.kind === 'ScaledObject')).toBe(false);
    expect(find(objs, 'Deployment', '-scaler')!.spec.replicas).toBe(1);
  });

  it('ServiceMonitors render only where monitoring.coreos.com/v1 is served', () => {
    const withCrd = objects(['ci/ingress-monitoring-values.yaml'], ['monitoring.coreos.com/v1']);
    expect(withCrd.filter((o) => o.kind === 'ServiceMonitor').map((o) => o.metadata.name).sort()).toEqual([
      'fooocus-fooocus-cloud-api',
      'fooocus-fooocus-cloud-scaler',
      'fooocus-fooocus-cloud-worker',
    ]);
    const without = objects(['ci/ingress-monitoring-values.yaml']);
    expect(without.filter((o) => o.kind === 'ServiceMonitor')).toEqual([]);
    const ingress = find(withCrd, 'Ingress', '-api')!;
    expect(ingress.spec.rules[0].http.paths[0].backend.service).toEqual({ name: 'fooocus-fooocus-cloud-api', port: { name: 'http' } });
    expect(find(withCrd, 'ConfigMap', '-dashboard')!.data['fooocus-cloud.json']).toContain('"uid": "fooocus-cloud"');
  });

  it('migrations: pre-install/pre-upgrade hook with an external database, post-install with the bundled one', () => {
    const ext = find(objects(['ci/external-values.yaml']), 'Job', '-migrate')!;
    expect(ext.metadata.annotations['helm.sh/hook']).toBe('pre-install,pre-upgrade');
    expect(ext.spec.template.spec.containers[0].env[0].valueFrom.secretKeyRef).toEqual({ name: 'fooocus-database', key: 'DATABASE_URL' });
    const bundledObjs = objects(['ci/default-values.yaml']);
    const bundled = find(bundledObjs, 'Job', '-migrate')!;
    expect(bundled.metadata.annotations['helm.sh/hook']).toBe('post-install,pre-upgrade');
    expect(bundled.spec.template.spec.initContainers[0].name).toBe('wait-for-postgres');
    const hookSecret = find(bundledObjs, 'Secret', '-migrate')!;
    expect(hookSecret.metadata.annotations['helm.sh/hook-weight']).toBe('-10');
  });

  it('secrets: values go into the release Secret, existing Secrets are referenced by name', () => {
    const own = objects(['ci/ingress-monitoring-values.yaml']);
    const secret = find(own, 'Secret', 'fooocus-cloud')!;
    expect(Object.keys(secret.stringData).sort()).toEqual(['API_KEYS', 'DATABASE_URL', 'POSTGRES_PASSWORD', 'S3_ACCESS_KEY_ID', 'S3_SECRET_ACCESS_KEY', 'WEBHOOK_SECRET']);
    expect(secret.stringData.API_KEYS).toBe('change-me-1,change-me-2');
    const ext = objects(['ci/external-values.yaml']);
    expect(ext.some((o) => o.kind === 'Secret')).toBe(false);
    const env = find(ext, 'Deployment', '-api')!.spec.template.spec.containers[0].env as Obj[];
    const ref = (n: string) => env.find((e) => e.name === n)?.valueFrom?.secretKeyRef;
    expect(ref('API_KEYS')).toEqual({ name: 'fooocus-api-keys', key: 'API_KEYS', optional: true });
    expect(ref('WEBHOOK_SECRET')).toEqual({ name: 'fooocus-webhooks', key: 'WEBHOOK_SECRET' });
    expect(ref('S3_SECRET_ACCESS_KEY')).toEqual({ name: 'fooocus-s3', key: 'S3_SECRET_ACCESS_KEY' });
  });

  it('NetworkPolicies: workers reach only DNS, Postgres, NATS and S3; the API alone has the URL-fetch path', () => {
    const objs = objects(['ci/external-values.yaml']);
    const worker = find(objs, 'NetworkPolicy', '-worker')!;
    expect(worker.spec.egress).toEqual([
      expect.objectContaining({ ports: [{ port: 53, protocol: 'UDP' }, { port: 53, protocol: 'TCP' }] }),
      { to: [{ ipBlock: { cidr: '10.20.0.0/24' } }], ports: [{ port: 5432, protocol: 'TCP' }] },
      { to: [{ ipBlock: { cidr: '10.20.1.0/24' } }], ports: [{ port: 4222, protocol: 'TCP' }] },
      { to: [{ ipBlock: { cidr: '0.0.0.0/0' } }], ports: [{ port: 443, protocol: 'TCP' }] },
    ]);
    const api = find(objs, 'NetworkPolicy', '-api')!;
    const internet = api.spec.egress.at(-1);
    expect(internet.to[0].ipBlock.except).toEqual(expect.arrayContaining(['10.0.0.0/8', '169.254.0.0/16', '172.16.0.0/12', '192.168.0.0/16']));
    expect(internet.ports).toEqual([{ port: 80, protocol: 'TCP' }, { port: 443, protocol: 'TCP' }]);
    expect(api.spec.ingress[0].from[0]).toEqual({ namespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': 'ingress-nginx' } } });
  });

  it('containers of the chart run as non-root with a read-only root filesystem', () => {
    for (const o of objects(['ci/ingress-monitoring-values.yaml'], ['monitoring.coreos.com/v1'])) {
      for (const { container } of containersOf(o)) {
        expect(container.securityContext?.readOnlyRootFilesystem, `${o.kind}/${o.metadata.name}/${container.name}`).toBe(true);
        expect(container.securityContext?.allowPrivilegeEscalation).toBe(false);
      }
    }
  });
});

describe('values.schema.json and cross-value rules', () => {
  const fails = (values: Obj, apiVersions?: string[]) => () => render({ files: [], apiVersions }, { values });

  it('rejects an unknown key', () => {
    expect(fails({ worker: { gpus: 2 } })).toThrow(/\/worker: must NOT have additional properties: gpus/);
    expect(fails({ replicas: 2 })).toThrow(/\(root\): must NOT have additional properties: replicas/);
  });

  it('rejects wrong types and values out of range', () => {
    expect(fails({ api: { replicaCount: 'two' } })).toThrow(/\/api\/replicaCount: must be integer/);
    expect(fails({ worker: { device: 'rocm' } })).toThrow(/\/worker\/device: must be equal to one of the allowed values/);
    expect(fails({ keda: { enabled: 'yes' } })).toThrow(/\/keda\/enabled: must be boolean/);
    expect(fails({ api: { port: 70000 } })).toThrow(/\/api\/port: must be <= 65535/);
  });

  it('rejects KEDA and the scaler together (two owners of the worker replicas)', () => {
    expect(fails({ keda: { enabled: true }, scaler: { enabled: true } })).toThrow(/enable one of them/);
  });

  it('rejects a drain time that does not fit in the grace period', () => {
    expect(fails({ worker: { terminationGracePeriodSeconds: 60, shutdownGraceSeconds: 55 } })).toThrow(/shutdownGraceSeconds must be at least 10 s below/);
  });

  it('requires connection details when a bundled service is turned off', () => {
    expect(fails({ database: { bundled: { enabled: false } } })).toThrow(/database.url or database.existingSecret is required/);
    expect(fails({ nats: { bundled: { enabled: false } } })).toThrow(/nats.url or nats.existingSecret is required/);
    expect(fails({ keda: { enabled: true }, nats: { bundled: { enabled: false }, url: 'nats://n:4222' } })).toThrow(/nats.monitoringEndpoint is required/);
  });

  it('errors are ChartRenderError with the chart name, like helm’s', () => {
    try {
      render({ files: [] }, { values: { nope: true } });
      expect.unreachable();
    } catch (e) {
      expect(e).toBeInstanceOf(ChartRenderError);
      expect((e as Error).message).toMatch(/^values don't meet the specifications of the schema\(s\) in the following chart\(s\):\nfooocus-cloud:/);
    }
  });
});

describe('NOTES.txt', () => {
  it('tells how to reach the API, where models go, and warns about missing API keys', () => {
    const { notes } = render({ files: ['ci/default-values.yaml'] });
    expect(notes).toContain('kubectl -n fooocus port-forward svc/fooocus-fooocus-cloud-api 7866:80');
    expect(notes).toContain('WARNING: no API keys are configured');
    expect(notes).toContain('the PersistentVolumeClaim fooocus-fooocus-cloud-models');
    const keda = render({ files: ['ci/keda-values.yaml'] }).notes;
    expect(keda).toContain('KEDA scales them between 0 and 8');
  });
});
