/**
 * The scaler's Kubernetes calls made by the real @kubernetes/client-node against
 * testing/fakeKubeApiServer.ts (no cluster can run where these tests run).
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { KubeConfig } from '@kubernetes/client-node';
import { KubeWorkloads, ScaleConflictError } from './kubeWorkloads.ts';
import { POD_DELETION_COST } from './planDeletionCosts.ts';
import { kubeConfigForFake, startFakeKubeApiServer, type FakeKubeApiServer } from './testing/fakeKubeApiServer.ts';

const LABELS = { 'app.kubernetes.io/instance': 'fooocus', 'app.kubernetes.io/component': 'worker' };
const SELECTOR = 'app.kubernetes.io/instance=fooocus,app.kubernetes.io/component=worker';

describe('KubeWorkloads against a Kubernetes-speaking HTTP server', () => {
  let api: FakeKubeApiServer;
  let kube: KubeWorkloads;

  beforeEach(async () => {
    api = await startFakeKubeApiServer({ namespace: 'fooocus' });
    api.addDeployment('fooocus-worker', 2, LABELS);
    api.nodes.set('gpu-node-1', { 'nvidia.com/gpu.product': 'NVIDIA-L4', 'nvidia.com/gpu.memory': '23034' });
    kube = new KubeWorkloads({ kubeConfig: kubeConfigForFake(api), namespace: 'fooocus' });
  });
  afterEach(async () => {
    await api.close();
  });

  it('reads the Scale subresource (replicas and resourceVersion) with the bearer token', async () => {
    expect(await kube.readScale('fooocus-worker')).toEqual({ name: 'fooocus-worker', replicas: 2, resourceVersion: '1' });
    expect(api.requests.at(-1)).toMatchObject({ method: 'GET', path: '/apis/apps/v1/namespaces/fooocus/deployments/fooocus-worker/scale' });
  });

  it('is refused without credentials (the server checks the token)', async () => {
    const kc = new KubeConfig();
    kc.loadFromOptions({
      clusters: [{ name: 'c', server: api.url, skipTLSVerify: true }],
      users: [{ name: 'u', token: 'wrong' }],
      contexts: [{ name: 'x', cluster: 'c', user: 'u' }],
      currentContext: 'x',
    });
    await expect(new KubeWorkloads({ kubeConfig: kc, namespace: 'fooocus' }).readScale('fooocus-worker')).rejects.toMatchObject({ code: 401 });
  });

  it('writes replicas with a PUT of the Scale carrying the resourceVersion it read', async () => {
    const scale = await kube.readScale('fooocus-worker');
    await kube.writeScale(scale, 3);
    const put = api.requests.at(-1)!;
    expect(put).toMatchObject({ method: 'PUT', path: '/apis/apps/v1/namespaces/fooocus/deployments/fooocus-worker/scale' });
    expect(put.body).toEqual({
      apiVersion: 'autoscaling/v1',
      kind: 'Scale',
      metadata: { name: 'fooocus-worker', namespace: 'fooocus', resourceVersion: '1' },
      spec: { replicas: 3 },
    });
    expect(api.deployments.get('fooocus-worker')!.replicas).toBe(3);
    expect(api.pods.size).toBe(3);
  });

  it('turns a 409 (someone changed the Deployment since the read) into ScaleConflictError and changes nothing', async () => {
    const scale = await kube.readScale('fooocus-worker');
    api.touch('fooocus-worker');
    await expect(kube.writeScale(scale, 0)).rejects.toBeInstanceOf(ScaleConflictError);
    expect(api.deployments.get('fooocus-worker')!.replicas).toBe(2);
  });

  it('lists worker pods by label selector, with readiness, node and GPU count', async () => {
    api.addDeployment('other', 1, { 'app.kubernetes.io/component': 'api' });
    const pods = await kube.listWorkerPods(SELECTOR);
    expect(pods).toHaveLength(2);
    expect(pods[0]).toMatchObject({ phase: 'Running', ready: true, terminating: false, gpuCount: 1, gpuResource: 'nvidia.com/gpu', deletionCost: null });
    expect(api.requests.at(-1)!.query).toEqual({ labelSelector: SELECTOR });
  });

  it('sets pod-deletion-cost with a JSON merge patch (the server refuses other patch types)', async () => {
    const [pod] = await kube.listWorkerPods(SELECTOR);
    await kube.setDeletionCost(pod.name, 1000);
    const patch = api.requests.at(-1)!;
    expect(patch).toMatchObject({ method: 'PATCH', contentType: 'application/merge-patch+json' });
    expect(patch.body).toEqual({ metadata: { annotations: { [POD_DELETION_COST]: '1000' } } });
    expect(api.pods.get(pod.name)!.annotations[POD_DELETION_COST]).toBe('1000');
    expect((await kube.listWorkerPods(SELECTOR)).find((p) => p.name === pod.name)!.deletionCost).toBe(1000);
  });

  it('ignores a pod that is already gone when setting its cost', async () => {
    await expect(kube.setDeletionCost('fooocus-worker-gone', 0)).resolves.toBeUndefined();
  });

  it('reads node labels for the GPU product', async () => {
    expect(await kube.readNodeLabels('gpu-node-1')).toEqual({ 'nvidia.com/gpu.product': 'NVIDIA-L4', 'nvidia.com/gpu.memory': '23034' });
  });
});
