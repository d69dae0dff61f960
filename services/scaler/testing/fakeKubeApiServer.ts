/**
 * An HTTP server that speaks the part of the Kubernetes API the scaler uses, for tests: no
 * kube-apiserver, kind or envtest can run on the machines that test this project.
 *
 * It follows the real API where the scaler depends on it:
 * - Paths, verbs and bodies of apps/v1 deployments/{name}/scale (GET, PUT), v1 pods (list with
 *   an equality labelSelector, PATCH) and v1 nodes/{name} (GET); errors as v1 Status objects.
 * - Optimistic concurrency: a Scale PUT whose metadata.resourceVersion is stale gets 409.
 * - PATCH accepts application/merge-patch+json only here (RFC 7386: null deletes a key);
 *   any other patch type gets 415, so a client sending JSON Patch by mistake fails the test.
 * - Bearer-token authentication (401 without it), as a service account token is used.
 * - The ReplicaSet controller's effect, crudely: raising replicas adds Ready pods; lowering
 *   them deletes pods ranked as controller.kubernetes.io/pod-deletion-cost ranks them (not
 *   Ready first, then lowest cost, then newest), so tests can see which pods a scale-in removed.
 * What it does not model: watches, field selectors, set-based selectors, admission, RBAC.
 */
import type { AddressInfo } from 'node:net';
import type { Server } from 'node:http';
import { KubeConfig } from '@kubernetes/client-node';
import express, { type Request, type Response } from 'express';

export interface FakePod {
  name: string;
  labels: Record<string, string>;
  annotations: Record<string, string>;
  phase: string;
  ready: boolean;
  nodeName: string | null;
  gpus: number;
  createdSeq: number;
}

export interface FakeDeployment {
  name: string;
  replicas: number;
  resourceVersion: number;
  podLabels: Record<string, string>;
}

export interface RecordedRequest {
  method: string;
  path: string;
  query: Record<string, unknown>;
  contentType: string | undefined;
  body: unknown;
}

export interface FakeKubeApiServer {
  readonly url: string;
  readonly token: string;
  readonly namespace: string;
  readonly deployments: Map<string, FakeDeployment>;
  readonly pods: Map<string, FakePod>;
  readonly nodes: Map<string, Record<string, string>>;
  readonly requests: RecordedRequest[];
  addDeployment(name: string, replicas: number, podLabels: Record<string, string>, gpus?: number): void;
  /** Bumps a Deployment's resourceVersion as another writer would. */
  touch(name: string): void;
  close(): Promise<void>;
}

function status(res: Response, code: number, reason: string, message: string): void {
  res.status(code).json({ kind: 'Status', apiVersion: 'v1', metadata: {}, status: 'Failure', message, reason, code });
}

function matchesSelector(labels: Record<string, string>, selector: string | undefined): boolean {
  if (!selector) return true;
  return selector
    .split(',')
    .filter(Boolean)
    .every((term) => {
      const [k, v] = term.split('=');
      return labels[k.trim()] === (v ?? '').trim();
    });
}

function mergePatch(target: unknown, patch: unknown): unknown {
  if (patch === null || typeof patch !== 'object' || Array.isArray(patch)) return patch;
  const out: Record<string, unknown> = target && typeof target === 'object' && !Array.isArray(target) ? { ...(target as Record<string, unknown>) } : {};
  for (const [k, v] of Object.entries(patch as Record<string, unknown>)) {
    if (v === null) delete out[k];
    else out[k] = mergePatch(out[k], v);
  }
  return out;
}

export async function startFakeKubeApiServer(opts: { namespace?: string; token?: string } = {}): Promise<FakeKubeApiServer> {
  const namespace = opts.namespace ?? 'fooocus';
  const token = opts.token ?? 'fake-service-account-token';
  const deployments = new Map<string, FakeDeployment>();
  const pods = new Map<string, FakePod>();
  const nodes = new Map<string, Record<string, string>>();
  const requests: RecordedRequest[] = [];
  let seq = 0;
  let podGpus = new Map<string, number>();

  const podJson = (p: FakePod) => ({
    apiVersion: 'v1',
    kind: 'Pod',
    metadata: { name: p.name, namespace, labels: p.labels, annotations: p.annotations, uid: `uid-${p.name}`, resourceVersion: String(p.createdSeq) },
    spec: {
      nodeName: p.nodeName ?? undefined,
      containers: [{ name: 'worker', image: 'worker:test', resources: p.gpus ? { limits: { 'nvidia.com/gpu': String(p.gpus) } } : {} }],
    },
    status: {
      phase: p.phase,
      startTime: new Date(1_700_000_000_000 + p.createdSeq * 1000).toISOString(),
      conditions: [{ type: 'Ready', status: p.ready ? 'True' : 'False' }],
    },
  });

  const scaleJson = (d: FakeDeployment) => ({
    apiVersion: 'autoscaling/v1',
    kind: 'Scale',
    metadata: { name: d.name, namespace, resourceVersion: String(d.resourceVersion) },
    spec: { replicas: d.replicas },
    status: { replicas: [...pods.values()].filter((p) => matchesSelector(p.labels, Object.entries(d.podLabels).map(([k, v]) => `${k}=${v}`).join(','))).length },
  });

  /** What a ReplicaSet does after its replicas change. */
  const reconcile = (d: FakeDeployment) => {
    const own = [...pods.values()].filter((p) => p.name.startsWith(`${d.name}-`));
    let n = own.length;
    while (n < d.replicas) {
      seq++;
      const name = `${d.name}-${seq.toString(36).padStart(5, '0')}`;
      pods.set(name, { name, labels: { ...d.podLabels }, annotations: {}, phase: 'Running', ready: true, nodeName: `gpu-node-${(seq % 2) + 1}`, gpus: podGpus.get(d.name) ?? 1, createdSeq: seq });
      n++;
    }
    if (n > d.replicas) {
      const cost = (p: FakePod) => Number(p.annotations['controller.kubernetes.io/pod-deletion-cost'] ?? 0);
      const victims = own
        .sort((a, b) => Number(a.ready) - Number(b.ready) || cost(a) - cost(b) || b.createdSeq - a.createdSeq)
        .slice(0, n - d.replicas);
      for (const v of victims) pods.delete(v.name);
    }
  };

  const app = express();
  app.use(express.json({ type: ['application/json', 'application/*+json'] }));
  app.use((req, res, next) => {
    requests.push({ method: req.method, path: req.path, query: { ...req.query }, contentType: req.headers['content-type'], body: req.body });
    if (req.headers.authorization !== `Bearer ${token}`) return status(res, 401, 'Unauthorized', 'Unauthorized');
    next();
  });

  const deploymentScalePath = '/apis/apps/v1/namespaces/:ns/deployments/:name/scale';
  app.get(deploymentScalePath, (req: Request<{ ns: string; name: string }>, res) => {
    const d = req.params.ns === namespace ? deployments.get(req.params.name) : undefined;
    if (!d) return status(res, 404, 'NotFound', `deployments.apps "${req.params.name}" not found`);
    res.json(scaleJson(d));
  });
  app.put(deploymentScalePath, (req: Request<{ ns: string; name: string }>, res) => {
    const d = req.params.ns === namespace ? deployments.get(req.params.name) : undefined;
    if (!d) return status(res, 404, 'NotFound', `deployments.apps "${req.params.name}" not found`);
    const body = req.body as { kind?: string; metadata?: { resourceVersion?: string }; spec?: { replicas?: unknown } };
    if (body?.kind !== 'Scale' || typeof body.spec?.replicas !== 'number' || body.spec.replicas < 0) {
      return status(res, 422, 'Invalid', 'Scale.autoscaling "invalid": spec.replicas must be a non-negative integer');
    }
    const rv = body.metadata?.resourceVersion;
    if (rv !== undefined && rv !== '' && rv !== String(d.resourceVersion)) {
      return status(res, 409, 'Conflict', `Operation cannot be fulfilled on deployments.apps "${d.name}": the object has been modified; please apply your changes to the latest version and try again`);
    }
    d.replicas = body.spec.replicas;
    d.resourceVersion++;
    reconcile(d);
    res.json(scaleJson(d));
  });

  app.get('/api/v1/namespaces/:ns/pods', (req: Request<{ ns: string }>, res) => {
    const selector = typeof req.query.labelSelector === 'string' ? req.query.labelSelector : undefined;
    const items = req.params.ns === namespace ? [...pods.values()].filter((p) => matchesSelector(p.labels, selector)).map(podJson) : [];
    res.json({ apiVersion: 'v1', kind: 'PodList', metadata: { resourceVersion: String(seq) }, items });
  });
  app.patch('/api/v1/namespaces/:ns/pods/:name', (req: Request<{ ns: string; name: string }>, res) => {
    if (req.headers['content-type'] !== 'application/merge-patch+json') {
      return status(res, 415, 'UnsupportedMediaType', `the body of the request was in an unknown format - accepted media types include: application/merge-patch+json`);
    }
    const p = req.params.ns === namespace ? pods.get(req.params.name) : undefined;
    if (!p) return status(res, 404, 'NotFound', `pods "${req.params.name}" not found`);
    const patched = mergePatch(podJson(p), req.body) as { metadata: { labels?: Record<string, string>; annotations?: Record<string, string> } };
    p.labels = patched.metadata.labels ?? {};
    p.annotations = patched.metadata.annotations ?? {};
    res.json(podJson(p));
  });

  app.get('/api/v1/nodes/:name', (req: Request<{ name: string }>, res) => {
    const labels = nodes.get(req.params.name);
    if (!labels) return status(res, 404, 'NotFound', `nodes "${req.params.name}" not found`);
    res.json({ apiVersion: 'v1', kind: 'Node', metadata: { name: req.params.name, labels } });
  });

  app.use((req, res) => status(res, 404, 'NotFound', `the server could not find the requested resource (${req.method} ${req.path})`));

  const server: Server = await new Promise((resolve) => {
    const s = app.listen(0, '127.0.0.1', () => resolve(s));
  });
  const { port } = server.address() as AddressInfo;

  return {
    url: `http://127.0.0.1:${port}`,
    token,
    namespace,
    deployments,
    pods,
    nodes,
    requests,
    addDeployment(name, replicas, podLabels, gpus = 1) {
      podGpus = new Map(podGpus).set(name, gpus);
      const d = { name, replicas, resourceVersion: 1, podLabels };
      deployments.set(name, d);
      reconcile(d);
    },
    touch(name) {
      deployments.get(name)!.resourceVersion++;
    },
    close: () => new Promise<void>((resolve, reject) => server.close((e) => (e ? reject(e) : resolve()))),
  };
}

/** A kubeconfig pointing the real @kubernetes/client-node at the fake server, with its token. */
export function kubeConfigForFake(server: FakeKubeApiServer): KubeConfig {
  const kc = new KubeConfig();
  kc.loadFromOptions({
    // client-node refuses plain http unless skipTLSVerify is set; the fake serves http on loopback.
    clusters: [{ name: 'fake', server: server.url, skipTLSVerify: true }],
    users: [{ name: 'scaler', token: server.token }],
    contexts: [{ name: 'fake', cluster: 'fake', user: 'scaler', namespace: server.namespace }],
    currentContext: 'fake',
  });
  return kc;
}
