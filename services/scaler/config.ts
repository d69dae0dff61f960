/**
 * The scaler deployable's configuration (conventions as in services/api/config.ts): one zod
 * schema over the environment, parsed once at start-up, failing with a message that names
 * the variable. The chart's scaler Deployment sets exactly these names (test/chart checks it).
 */
import { readFileSync } from 'node:fs';
import { z } from 'zod';
import { envBool, envInt, envList, formatConfigError } from '../config/envHelpers.ts';

export const scalerEnvSchema = z
  .object({
    /** Namespace of the worker Deployments. Default: the pod's own (service account), else "default". */
    KUBE_NAMESPACE: z.string().optional(),
    /** Worker Deployments to scale, comma-separated, in order of preference (filled first, emptied last). Required. */
    WORKER_DEPLOYMENTS: envList(),
    /** Label selector of the worker pods (inventory and pod-deletion-cost). Default app.kubernetes.io/component=worker */
    WORKER_POD_SELECTOR: z.string().default('app.kubernetes.io/component=worker'),
    /** Fewest workers in total; 0 allows scale to zero. Default 0. */
    MIN_REPLICAS: envInt(0, 0, 10_000),
    /** Most workers per Deployment. Default 4. */
    MAX_REPLICAS: envInt(4, 1, 10_000),
    /** Outstanding tasks (queued + running) one worker is meant to carry. Default 1 (one task per GPU). */
    TASKS_PER_REPLICA: envInt(1, 1, 10_000),
    /** Where queue depth comes from: jetstream (consumer info) or postgres (the task table). Default jetstream. */
    QUEUE_SOURCE: z.enum(['jetstream', 'postgres']).default('jetstream'),
    /** Time between decisions. Default 10 s. */
    POLL_INTERVAL_MS: envInt(10_000, 200),
    /** After a change, time before the next scale-up (waking from zero is never delayed). Default 30 s. */
    SCALE_UP_COOLDOWN_MS: envInt(30_000, 0),
    /** Scale-down looks at the highest need over this window, and waits this long after a change. Default 5 min. */
    SCALE_DOWN_COOLDOWN_MS: envInt(300_000, 0),
    /** Time with nothing queued or running before the last workers go (scale to zero). Default 10 min. */
    IDLE_BEFORE_ZERO_MS: envInt(600_000, 0),
    /** Task table: busy workers (kept on scale-in) and the inventory; the queue depth too with QUEUE_SOURCE=postgres. */
    DATABASE_URL: z.string().url().optional(),
    /** NATS for QUEUE_SOURCE=jetstream. */
    NATS_URL: z.string().optional(),
    NATS_STREAM: z.string().default('FOOOCUS_TASKS'),
    NATS_CONSUMER: z.string().default('fooocus-workers'),
    /** Read node labels (GPU product and memory) for the inventory; needs "get nodes". Default false. */
    READ_NODES: envBool(false),
    /** Checkpoints a worker ran within this window count as warm in the inventory. Default 15 min. */
    WARM_WINDOW_MS: envInt(900_000, 0),
    /** Port of /inventory, /metrics and /healthz. Default 8080; 0 disables the server. */
    PORT: envInt(8080, 0, 65535),
    LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
  })
  .superRefine((c, ctx) => {
    if (c.WORKER_DEPLOYMENTS.length === 0) ctx.addIssue({ code: 'custom', path: ['WORKER_DEPLOYMENTS'], message: 'at least one Deployment name is required' });
    if (c.MIN_REPLICAS > c.MAX_REPLICAS * Math.max(1, c.WORKER_DEPLOYMENTS.length)) {
      ctx.addIssue({ code: 'custom', path: ['MIN_REPLICAS'], message: 'must not exceed MAX_REPLICAS times the number of Deployments' });
    }
    if (c.QUEUE_SOURCE === 'jetstream' && !c.NATS_URL) ctx.addIssue({ code: 'custom', path: ['NATS_URL'], message: 'required with QUEUE_SOURCE=jetstream' });
    if (c.QUEUE_SOURCE === 'postgres' && !c.DATABASE_URL) ctx.addIssue({ code: 'custom', path: ['DATABASE_URL'], message: 'required with QUEUE_SOURCE=postgres' });
  });

export type ScalerConfig = z.infer<typeof scalerEnvSchema> & { KUBE_NAMESPACE: string };

const SERVICE_ACCOUNT_NAMESPACE = '/var/run/secrets/kubernetes.io/serviceaccount/namespace';

export function parseScalerConfig(env: NodeJS.ProcessEnv, readNamespaceFile: () => string | null = defaultNamespaceFile): ScalerConfig {
  const r = scalerEnvSchema.safeParse(env);
  if (!r.success) throw new Error(`invalid scaler configuration:\n${formatConfigError(r.error)}`);
  return { ...r.data, KUBE_NAMESPACE: r.data.KUBE_NAMESPACE ?? readNamespaceFile() ?? 'default' };
}

function defaultNamespaceFile(): string | null {
  try {
    return readFileSync(SERVICE_ACCOUNT_NAMESPACE, 'utf8').trim() || null;
  } catch {
    return null;
  }
}
