/**
 * The worker deployable's configuration (see services/api/config.ts for the
 * conventions). One zod schema, parsed at start-up.
 */
import { hostname } from 'node:os';
import { resolve } from 'node:path';
import { z } from 'zod';
import { envInt, formatConfigError } from '../config/envHelpers.ts';
import { storageEnvSchema } from '../config/storageConfig.ts';

export const workerEnvSchema = storageEnvSchema.extend({
  /** Identity written on claimed tasks. Default: the host name (the pod name in Kubernetes). */
  WORKER_ID: z.string().default(hostname()),
  /** Model files (checkpoints/, loras/, …). Default ./models */
  MODELS_DIR: z.string().default('./models'),
  /**
   * Wildcard word lists (`<name>.txt`, searched recursively) for `__name__` in prompts, as
   * Fooocus' `wildcards/` folder. Default: `wildcards` next to MODELS_DIR (MODELS_DIR/../wildcards,
   * the layout of a Fooocus install: models/ and wildcards/ side by side; ./wildcards for the
   * default ./models). A missing folder means no lists: `__name__` then becomes the plain word
   * `name`, as in Fooocus.
   */
  WILDCARDS_DIR: z.string().optional(),
  /** Built ONNX graphs; keep on the models' filesystem so weights are hard-linked, not copied. Default ./models/.onnx-cache */
  ENGINE_CACHE_DIR: z.string().optional(),
  /**
   * Model files to download at start when missing (as Fooocus does on first launch): inline
   * JSON (a value starting with '[') or the path of a JSON file, holding an array of
   * `{ "path": "checkpoints/x.safetensors", "url": "https://…", "sha256": "<hex>", "size": <bytes> }`
   * with `path` relative to MODELS_DIR and sha256/size optional (sha256 strongly advised).
   * Validated at start (services/worker/ensureDefaultModels.ts). Default: none.
   */
  MODEL_DOWNLOADS: z.string().optional(),
  /** Execution provider: cpu, cuda, webgpu or auto. Default cpu. */
  ENGINE_PROVIDER: z.enum(['cpu', 'cuda', 'webgpu', 'auto']).default('cpu'),
  ENGINE_DEVICE_ID: envInt(0, 0, 64),
  /** Threads per operator; 0 = all cores. */
  ENGINE_THREADS: envInt(0, 0, 1024),
  /** Heartbeat period while a task runs. Default 5 s. */
  HEARTBEAT_INTERVAL_MS: envInt(5_000, 100),
  // ACK_WAIT_MS and MAX_DELIVERIES live in storageEnvSchema (the API opens the same consumer).
  /**
   * Start-to-close limit of one attempt (reliability.md B6): past it the engine is aborted
   * within a step and the task fails with code `timeout` (not retried). 0 = no limit.
   * Default 3 600 000 (1 h: 32 full-size images on a GPU fit well within it).
   */
  TASK_TIMEOUT_MS: envInt(3_600_000, 0),
  /** On SIGTERM: time to finish the running task before releasing it. Default 25 s. */
  SHUTDOWN_GRACE_MS: envInt(25_000, 0),
  /** Port for /metrics and /healthz. Default 9464; 0 disables. */
  METRICS_PORT: envInt(9464, 0, 65535),
  LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
});

export type WorkerConfig = z.infer<typeof workerEnvSchema>;

/** WILDCARDS_DIR, or its default: `wildcards` beside MODELS_DIR. */
export function wildcardsDir(config: Pick<WorkerConfig, 'MODELS_DIR' | 'WILDCARDS_DIR'>): string {
  return config.WILDCARDS_DIR ?? resolve(config.MODELS_DIR, '..', 'wildcards');
}

export function parseWorkerConfig(env: NodeJS.ProcessEnv): WorkerConfig {
  const r = workerEnvSchema.safeParse(env);
  if (!r.success) throw new Error(`invalid worker configuration:\n${formatConfigError(r.error)}`);
  return r.data;
}
