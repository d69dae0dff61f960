/**
 * The API deployable's configuration: one zod schema over the environment,
 * parsed once at start-up; a bad value stops the process with a message that
 * names the variable. Nothing else reads process.env. Every option documents
 * its default; secrets (API_KEYS, WEBHOOK_SECRET, S3 keys) are never logged.
 */
import { z } from 'zod';
import { envBool, envInt, envList, formatConfigError } from '../config/envHelpers.ts';
import { storageEnvSchema } from '../config/storageConfig.ts';

export const apiEnvSchema = storageEnvSchema.extend({
  /** Listen address. Default 0.0.0.0 (FooocusAPI listens on 127.0.0.1 unless --listen). */
  HOST: z.string().default('0.0.0.0'),
  /** Listen port. Default 7866, FooocusAPI's. */
  PORT: envInt(7866, 0, 65535),
  /** Base URL written into result URLs (`/outputs/…`). Default http://127.0.0.1:PORT (FooocusAPI's --base-url). */
  PUBLIC_BASE_URL: z.string().url().optional(),
  /** Comma-separated API keys (only their sha256 digests are kept in memory). Unset: no auth, as FooocusAPI without --apikey. */
  API_KEYS: envList(),
  /** Comma-separated sha256 hex digests of API keys, for secrets that must not hold the keys. */
  API_KEY_SHA256: envList(),
  /** Server default for an empty `webhook_url` (FooocusAPI's --webhook-url). Default "" (none). */
  WEBHOOK_URL: z.string().default(''),
  /** Standard Webhooks signing secret (whsec_… base64). Unset: webhooks are sent unsigned. */
  WEBHOOK_SECRET: z.string().optional(),
  /** Webhook attempts before giving up. Default 8. */
  WEBHOOK_MAX_ATTEMPTS: envInt(8, 1, 50),
  /** One webhook POST's time limit. Default 15 000 ms. */
  WEBHOOK_TIMEOUT_MS: envInt(15_000, 100),
  /** How often the webhook loop looks for due deliveries. Default 1000 ms. */
  WEBHOOK_POLL_INTERVAL_MS: envInt(1000, 50),
  /** How often the outbox relay publishes pending dispatches. Default 500 ms. */
  OUTBOX_RELAY_INTERVAL_MS: envInt(500, 10),
  /** How often the reconciler sweeps stale tasks. Default 10 000 ms. */
  RECONCILE_INTERVAL_MS: envInt(10_000, 100),
  /** Largest request body. Default 32 MiB (larger ⇒ 413). */
  MAX_BODY_BYTES: envInt(32 * 1024 * 1024, 1024),
  /** Largest decoded input image (bytes of the file). Default 20 MiB. */
  MAX_IMAGE_BYTES: envInt(20 * 1024 * 1024, 1024),
  /** Largest input or output image in pixels. Default 4096×4096. */
  MAX_IMAGE_PIXELS: envInt(4096 * 4096, 64 * 64),
  /** URL inputs: fetch time limit and redirect limit. Defaults 15 000 ms, 3. */
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
  /** Milliseconds SSE clients are told (`retry:`) to wait before reconnecting, also during a drain. Default 3000. */
  SSE_RETRY_MS: envInt(3000, 100),
  /** SSE keep-alive comment period (FooocusAPI/sse-starlette: 15 s). Default 15 000 ms. */
  SSE_PING_MS: envInt(15_000, 100),
  /**
   * Write `id:` (and one leading `retry:`) in the generate stream so a client can resume on
   * GET /tasks/{id}/events with Last-Event-ID. Default true; false gives FooocusAPI's framing
   * byte for byte.
   */
  SSE_EVENT_IDS: envBool(true),
  /**
   * Sync/binary/SSE requests wait for the terminal event; as a safety net against a lost
   * event (reliability.md B2) the row is re-read this often. Default 30 000 ms.
   */
  SYNC_RECHECK_MS: envInt(30_000, 100),
  /**
   * Report failed tasks as "finished" and canceled ones as "stop", exactly as FooocusAPI does.
   * Default false: they read "failed" / "canceled" (docs/compat.md).
   */
  FOOOCUS_STATUS_COMPAT: envBool(false),
  /** On SIGTERM: time to let in-flight requests finish before closing. Default 10 000 ms. */
  SHUTDOWN_GRACE_MS: envInt(10_000, 0),
  LOG_LEVEL: z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
});

export type ApiConfig = z.infer<typeof apiEnvSchema>;

export function parseApiConfig(env: NodeJS.ProcessEnv): ApiConfig {
  const r = apiEnvSchema.safeParse(env);
  if (!r.success) throw new Error(`invalid API configuration:\n${formatConfigError(r.error)}`);
  return r.data;
}

/** PUBLIC_BASE_URL without a trailing slash, or FooocusAPI's default http://127.0.0.1:PORT. */
export function publicBaseUrl(config: Pick<ApiConfig, 'PUBLIC_BASE_URL' | 'PORT'>): string {
  return (config.PUBLIC_BASE_URL ?? `http://127.0.0.1:${config.PORT}`).replace(/\/+$/, '');
}
