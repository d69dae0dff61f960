import { describe, expect, it } from 'vitest';
import { parseScalerConfig, scalerEnvSchema } from './config.ts';

const base = { WORKER_DEPLOYMENTS: 'fooocus-worker', NATS_URL: 'nats://nats:4222' };

describe('scaler config', () => {
  it('applies the documented defaults', () => {
    const c = parseScalerConfig(base, () => null);
    expect(c).toMatchObject({
      KUBE_NAMESPACE: 'default',
      WORKER_DEPLOYMENTS: ['fooocus-worker'],
      MIN_REPLICAS: 0,
      MAX_REPLICAS: 4,
      TASKS_PER_REPLICA: 1,
      QUEUE_SOURCE: 'jetstream',
      POLL_INTERVAL_MS: 10_000,
      SCALE_UP_COOLDOWN_MS: 30_000,
      SCALE_DOWN_COOLDOWN_MS: 300_000,
      IDLE_BEFORE_ZERO_MS: 600_000,
      READ_NODES: false,
      PORT: 8080,
    });
  });

  it('takes the namespace from the service account when KUBE_NAMESPACE is unset', () => {
    expect(parseScalerConfig(base, () => 'gpu-jobs').KUBE_NAMESPACE).toBe('gpu-jobs');
    expect(parseScalerConfig({ ...base, KUBE_NAMESPACE: 'x' }, () => 'gpu-jobs').KUBE_NAMESPACE).toBe('x');
  });

  it('fails naming the variable: no Deployment, missing queue source settings, bad numbers', () => {
    expect(() => parseScalerConfig({ NATS_URL: 'nats://n' }, () => null)).toThrow(/WORKER_DEPLOYMENTS: at least one Deployment name is required/);
    expect(() => parseScalerConfig({ WORKER_DEPLOYMENTS: 'w' }, () => null)).toThrow(/NATS_URL: required with QUEUE_SOURCE=jetstream/);
    expect(() => parseScalerConfig({ WORKER_DEPLOYMENTS: 'w', QUEUE_SOURCE: 'postgres' }, () => null)).toThrow(/DATABASE_URL: required with QUEUE_SOURCE=postgres/);
    expect(() => parseScalerConfig({ ...base, MAX_REPLICAS: 'many' }, () => null)).toThrow(/MAX_REPLICAS/);
    expect(() => parseScalerConfig({ ...base, MIN_REPLICAS: '9', MAX_REPLICAS: '4' }, () => null)).toThrow(/MIN_REPLICAS: must not exceed/);
  });

  it('exposes its keys (the chart check reads them from .shape)', () => {
    expect(Object.keys(scalerEnvSchema.shape)).toContain('WORKER_DEPLOYMENTS');
  });
});
