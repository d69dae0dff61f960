/**
 * The scaler deployable, for clusters without KEDA: scales the worker Deployment(s) between
 * MIN_REPLICAS and MAX_REPLICAS from queue depth, prefers removing idle pods, and serves the
 * worker inventory. Entrypoint: node --import tsx services/scaler/main.ts
 * Run exactly one replica (the chart does): two scalers would undo each other's decisions.
 */
import type { Server } from 'node:http';
import { KubeConfig } from '@kubernetes/client-node';
import { pino } from 'pino';
import { Registry, collectDefaultMetrics } from 'prom-client';
import { parseScalerConfig } from './config.ts';
import { JetStreamQueueDepth } from './jetstreamQueueDepth.ts';
import { KubeWorkloads } from './kubeWorkloads.ts';
import type { QueueDepthSource } from './queueDepth.ts';
import { createScalerApp } from './scalerHttp.ts';
import { ScalerLoop } from './scalerLoop.ts';
import { createScalerMetrics } from './scalerMetrics.ts';
import { TaskTableActivity } from './taskTableActivity.ts';

async function main(): Promise<void> {
  const config = parseScalerConfig(process.env);
  const logger = pino({ level: config.LOG_LEVEL, base: { service: 'fooocus-scaler' } });
  const kubeConfig = new KubeConfig();
  kubeConfig.loadFromDefault(); // in-cluster service account, or KUBECONFIG outside a cluster

  const registry = new Registry();
  collectDefaultMetrics({ register: registry });
  const metrics = createScalerMetrics(registry);

  const activity = config.DATABASE_URL ? new TaskTableActivity({ connectionString: config.DATABASE_URL }) : null;
  const depth: QueueDepthSource =
    config.QUEUE_SOURCE === 'postgres'
      ? activity!
      : await JetStreamQueueDepth.connect({ servers: config.NATS_URL!, stream: config.NATS_STREAM, consumer: config.NATS_CONSUMER });

  const loop = new ScalerLoop({
    kube: new KubeWorkloads({ kubeConfig, namespace: config.KUBE_NAMESPACE }),
    depth,
    activity,
    namespace: config.KUBE_NAMESPACE,
    deployments: config.WORKER_DEPLOYMENTS,
    podSelector: config.WORKER_POD_SELECTOR,
    policy: {
      minReplicas: config.MIN_REPLICAS,
      maxReplicas: config.MAX_REPLICAS,
      tasksPerReplica: config.TASKS_PER_REPLICA,
      scaleUpCooldownMs: config.SCALE_UP_COOLDOWN_MS,
      scaleDownCooldownMs: config.SCALE_DOWN_COOLDOWN_MS,
      idleBeforeZeroMs: config.IDLE_BEFORE_ZERO_MS,
    },
    readNodes: config.READ_NODES,
    warmWindowMs: config.WARM_WINDOW_MS,
    logger,
    metrics,
  });

  let server: Server | null = null;
  if (config.PORT > 0) {
    const app = createScalerApp({ loop, registry, pollIntervalMs: config.POLL_INTERVAL_MS, startedAt: Date.now() });
    server = app.listen(config.PORT, '0.0.0.0');
  }
  loop.start(config.POLL_INTERVAL_MS);
  logger.info(
    { namespace: config.KUBE_NAMESPACE, deployments: config.WORKER_DEPLOYMENTS, source: config.QUEUE_SOURCE, min: config.MIN_REPLICAS, max: config.MAX_REPLICAS },
    'scaler started',
  );

  const shutdown = async (signal: string) => {
    logger.info({ signal }, 'scaler stopping');
    await loop.stop();
    await new Promise<void>((resolve) => (server ? server.close(() => resolve()) : resolve()));
    await depth.close();
    if (activity && activity !== depth) await activity.close();
    process.exit(0);
  };
  process.once('SIGTERM', () => void shutdown('SIGTERM'));
  process.once('SIGINT', () => void shutdown('SIGINT'));
}

main().catch((e: unknown) => {
  process.stderr.write(`${(e as Error).message}\n`);
  process.exit(1);
});
