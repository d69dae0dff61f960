/**
 * The API deployable's configuration: one zod schema over the environment,
 * parsed once at start-up; a bad value stops the process with a message that
 * names the variable. Nothing else reads process.env.
 */
import { z } from 'zod';
import { envBool, envInt, envList, formatConfigError } from '../config/envHelpers.ts';
import { storageEnvSchema } from '../config/storageConfig.ts';

export const apiEnvSchema = storageEnvSchema.extend({
  /** Listen address. Default 0.0.0.0 (FooocusAPI listens on 127.0.0.1 unless --listen). */
  HOST: z.string().default('0.0.0.0'),
  /** Listen port. Default 7866, FooocusAPI's. */
  PORT: envInt(7866, 1, 65535),
  /** Base URL written into result URLs (`/outputs/…`). Default http://127.0.0.1:PORT */
  PUBLIC_BASE_URL: z.string().url().optional(),
  /** Comma-separated API keys (stored hashed in memory). Unset: no auth, as FooocusAPI without --apikey. */
  API_KEYS: envList(),
  /** Comma-separated sha256 hex digests of API keys, for secrets that must not hold the keys. */
  API_KEY_SHA256: envList(),
  /** Standard Webhooks signing secret (whsec_… base64). Unset: webhooks are sent unsigned. */
  WEBHOOK_SECRET: z.string().optional(),
  /** Webhook attempts before giving up. Default 8. */
  WEBHOOK_MAX_ATTEMPTS: envInt(8, 1, 50),
  /** Largest request body. Default 32 MiB. */
  MAX_BODY_BYTES: envInt(32 * 1024 * 1024, 1024),
  /** Largest decoded input image (bytes of the file). Default 20 MiB. */
  MAX_IMAGE_BYTES: envInt(20 * 1024 * 1024, 1024),
  /** Largest input or output image in pixels. Default 4096×4096. */
  MAX_IMAGE_PIXELS: envInt(4096 * 4096, 64 * 64),
  /** URL inputs: fetch time limit and redirect limit. */
  URL_FETCH_TIMEOUT_MS: envInt(15_000, 100),
  URL_FETCH_MAX_REDIRECTS: envInt(3, 0, 10),
  /** Allow image URLs that resolve to private, loopback or link-local addresses. Default false. */
  URL_ALLOW_PRIVATE: envBool(false),
  /** Where preset JSON files live. Default ./presets */
  PRESETS_DIR: z.string().default('./presets'),
  /** Model directory the API lists in /v1/engines/all-models. Default ./models */
  MODELS_DIR: z.string().default('./models'),
  /** Queued tasks older than this are republished by the reconciler. Default 30 s. */
  RECONCILE_AFTER_MS: envInt(30_000, 1000),
  /** Running tasks whose heartbeat is older than this are requeued. Default 120 s. */
  HEARTBEAT_TIMEOUT_MS: envInt(120_000, 1000),
  /** Seconds SSE clients are told to wait before reconnecting during a drain. */
  SSE_RETRY_MS: envInt(3000, 100),
  LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
});

export type ApiConfig = z.infer<typeof apiEnvSchema>;

export function parseApiConfig(env: NodeJS.ProcessEnv): ApiConfig {
  const r = apiEnvSchema.safeParse(env);
  if (!r.success) throw new Error(`invalid API configuration:\n${formatConfigError(r.error)}`);
  return r.data;
}
