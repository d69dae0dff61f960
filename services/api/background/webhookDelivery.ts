/**
 * The webhook delivery loop (ARCHITECTURE.md step 5, reliability.md B8/I4, ecosystem.md A6).
 *
 * Deliveries live in Postgres (webhook_deliveries), so they survive restarts and any API
 * replica can send them. Each round takes the due ones with `takeDueWebhooks`, which leases
 * them and increments their attempt under FOR UPDATE SKIP LOCKED: two replicas never send
 * the same attempt, and a replica that dies mid-send leaves the delivery due again after
 * the lease. The outcome is written fenced on that attempt (markWebhookDelivered/Failed), so
 * a sender whose lease expired cannot overwrite the retry that replaced it.
 *
 * One delivery, one attempt:
 * - Body: the stored payload (a string is sent verbatim — jsonb reorders object keys, so a
 *   producer that cares about bytes stores the rendered body; any other JSON value is sent
 *   as `JSON.stringify(payload)`), or — for terminal task events,
 *   enqueued with payload null — rendered from the task row now (default: FooocusAPI's
 *   double-encoded record, fooocusWebhookBody.ts). A deleted task gives up.
 * - POST through the SSRF-safe fetcher (the URL is re-resolved and re-checked on EVERY
 *   attempt: a webhook URL's DNS may have changed since submission), redirects not
 *   followed, one overall timeout (Svix: 15 s).
 * - Headers: content-type, `webhook-id` = the event id (stable across retries),
 *   `webhook-timestamp` = now, `webhook-signature` = v1 HMAC when a secret is configured.
 * - 2xx → delivered. 410 Gone → give up now (Standard Webhooks: the endpoint is gone).
 *   A refused address/scheme → give up now (retrying an SSRF attempt helps no one).
 *   Anything else (3xx, 4xx, 5xx, timeout, connection error) → retry on the schedule of
 *   webhookRetrySchedule.ts, honouring Retry-After; after maxAttempts → give up.
 */
import type { Registry } from 'prom-client';
import type { TaskStore, WebhookDelivery } from '../../core/ports.ts';
import type { Task } from '../../core/task/taskRecord.ts';
import { UrlFetchError, type UrlFetcher } from '../edge/urlFetch/index.ts';
import { renderFooocusWebhookBody } from './fooocusWebhookBody.ts';
import { counterIn, defaultRegistry, silentLogger, systemClock, type Clock, type Logger } from './loopDeps.ts';
import { startPeriodicLoop } from './periodicLoop.ts';
import { DEFAULT_JITTER, nextRetryDelayMs, parseRetryAfter, SVIX_RETRY_SCHEDULE_MS, type RetryPolicy } from './webhookRetrySchedule.ts';
import { parseWebhookSecret, standardWebhookHeaders } from './webhookSignature.ts';

export type WebhookOutcome =
  /** 2xx recorded. */
  | 'delivered'
  /** Failed; due again later. */
  | 'retrying'
  /** Failed for good (410, refused address, deleted task, attempts used up). */
  | 'gave_up'
  /** The lease had expired: another sender owns the delivery now; nothing recorded. */
  | 'lease_lost';

export interface WebhookDeliveryOptions {
  store: Pick<TaskStore, 'takeDueWebhooks' | 'markWebhookDelivered' | 'markWebhookFailed' | 'get'>;
  /** The SSRF-safe fetcher (createUrlFetcher); only `post` is used. */
  fetcher: Pick<UrlFetcher, 'post'>;
  /** Public URL of an output blob key, for the default FooocusAPI body. */
  outputUrl: (key: string) => string;
  /**
   * Body of a delivery enqueued without a payload; `task` is null when it was deleted.
   * Return null to give up. Default: FooocusAPI's record body (renderFooocusWebhookBody).
   */
  renderBody?: (delivery: WebhookDelivery, task: Task | null) => string | null;
  /** Standard Webhooks secret `whsec_<base64>` (WEBHOOK_SECRET). Default: unsigned. */
  secret?: string;
  /** Attempts per delivery, the first included (WEBHOOK_MAX_ATTEMPTS). Default 8. */
  maxAttempts?: number;
  /** Delay after failed attempt n = retryScheduleMs[n-1], last repeats. Default Svix: 5 s, 5 m, 30 m, 2 h, 5 h, 10 h, 10 h. */
  retryScheduleMs?: readonly number[];
  /** ± fraction applied to each delay. Default 0.2. */
  jitter?: number;
  /** Per-attempt request timeout (WEBHOOK_TIMEOUT_MS). Default 15 000 ms. */
  timeoutMs?: number;
  /** Deliveries taken per round. Default 20. */
  batch?: number;
  /** Deliveries sent at once within a round. Default 8. */
  concurrency?: number;
  /** Pause between rounds when idle. Default 1000 ms. */
  intervalMs?: number;
  /** Lease on a taken delivery; must outlast the request. Default max(60 s, 2 × timeoutMs + 5 s). */
  leaseMs?: number;
  logger?: Logger;
  /** Default prom-client's global registry. */
  registry?: Registry;
  /** For `webhook-timestamp`. Default Date.now. */
  clock?: Clock;
  /** [0,1) source for jitter. Default Math.random. */
  random?: () => number;
}

export interface WebhookRoundReport {
  /** Deliveries taken this round (a full batch means more may be due). */
  taken: number;
  delivered: number;
  retrying: number;
  gaveUp: number;
  leaseLost: number;
}

export interface WebhookDeliveryLoop {
  /** Stops the loop; resolves after the round in progress. */
  stop(): Promise<void>;
  /** One round now (safe to run alongside the loop and other replicas). */
  runOnce(): Promise<WebhookRoundReport>;
}

export const DEFAULT_WEBHOOK_TIMEOUT_MS = 15_000;

export function startWebhookDelivery(options: WebhookDeliveryOptions): WebhookDeliveryLoop {
  const {
    store,
    fetcher,
    maxAttempts = 8,
    timeoutMs = DEFAULT_WEBHOOK_TIMEOUT_MS,
    batch = 20,
    concurrency = 8,
    intervalMs = 1000,
    logger = silentLogger,
    registry = defaultRegistry,
    clock = systemClock,
  } = options;
  const leaseMs = options.leaseMs ?? Math.max(60_000, 2 * timeoutMs + 5_000);
  const key = options.secret ? parseWebhookSecret(options.secret) : null;
  const renderBody = options.renderBody ?? ((_d: WebhookDelivery, task: Task | null) => (task ? renderFooocusWebhookBody(task, { outputUrl: options.outputUrl }) : null));
  const policy: RetryPolicy = {
    maxAttempts,
    scheduleMs: options.retryScheduleMs ?? SVIX_RETRY_SCHEDULE_MS,
    jitter: options.jitter ?? DEFAULT_JITTER,
    random: options.random ?? Math.random,
  };
  const outcomes = counterIn(
    registry,
    'fooocus_webhook_deliveries_total',
    'Webhook delivery attempts by outcome: delivered (2xx), retrying (failed, will retry), gave_up (failed for good), lease_lost (outcome not recorded: another sender took over).',
    ['outcome'],
  );

  async function bodyOf(d: WebhookDelivery): Promise<string | null> {
    // A string payload is the exact body (pre-rendered: jsonb does not keep key order);
    // any other JSON value is serialised here.
    if (typeof d.payload === 'string') return d.payload;
    if (d.payload !== null) return JSON.stringify(d.payload);
    return renderBody(d, await store.get(d.taskId));
  }

  async function fail(d: WebhookDelivery, error: string, retryInMs: number | null): Promise<WebhookOutcome> {
    const recorded = await store.markWebhookFailed(d.id, d.attempt, { error: error.slice(0, 1000), retryInMs });
    const outcome: WebhookOutcome = !recorded ? 'lease_lost' : retryInMs === null ? 'gave_up' : 'retrying';
    const log = { webhookId: d.eventId, taskId: d.taskId, attempt: d.attempt, error, retryInMs };
    if (outcome === 'gave_up') logger.warn(log, 'webhook delivery failed for good');
    else if (outcome === 'retrying') logger.info(log, 'webhook delivery failed; will retry');
    else logger.warn(log, 'webhook outcome not recorded: lease expired');
    return outcome;
  }

  async function deliver(d: WebhookDelivery): Promise<WebhookOutcome> {
    const body = await bodyOf(d);
    if (body === null) return fail(d, 'the task no longer exists', null);
    const timestamp = Math.floor(clock.now() / 1000);
    const headers = { 'content-type': 'application/json', ...standardWebhookHeaders(d.eventId, timestamp, body, key) };
    let status: number;
    let retryAfterMs: number | null = null;
    try {
      const res = await fetcher.post(d.url, body, { headers, timeoutMs });
      status = res.status;
      if (status >= 200 && status <= 299) {
        const recorded = await store.markWebhookDelivered(d.id, d.attempt);
        if (!recorded) {
          logger.warn({ webhookId: d.eventId, attempt: d.attempt }, 'webhook delivered but the lease had expired');
          return 'lease_lost';
        }
        logger.debug({ webhookId: d.eventId, taskId: d.taskId, attempt: d.attempt, status }, 'webhook delivered');
        return 'delivered';
      }
      const error = `HTTP ${status}${res.bodySnippet ? `: ${res.bodySnippet.slice(0, 200)}` : ''}`;
      if (status === 410) return fail(d, `${error} (endpoint gone)`, null);
      if (status === 429 || status === 503) retryAfterMs = parseRetryAfter(res.headers['retry-after'], clock.now());
      return fail(d, error, nextRetryDelayMs(d.attempt, policy, retryAfterMs));
    } catch (err) {
      if (!(err instanceof UrlFetchError)) throw err;
      const permanent = err.code === 'address_not_allowed' || err.code === 'scheme_not_allowed' || err.code === 'invalid_url';
      return fail(d, err.message, permanent ? null : nextRetryDelayMs(d.attempt, policy));
    }
  }

  async function runOnce(): Promise<WebhookRoundReport> {
    const due = await store.takeDueWebhooks(batch, leaseMs);
    const report: WebhookRoundReport = { taken: due.length, delivered: 0, retrying: 0, gaveUp: 0, leaseLost: 0 };
    let next = 0;
    const worker = async () => {
      while (next < due.length) {
        const d = due[next++];
        let outcome: WebhookOutcome;
        try {
          outcome = await deliver(d);
        } catch (err) {
          // Store or renderer failure: leave the delivery leased; it is due again after the lease.
          logger.error({ err, webhookId: d.eventId, attempt: d.attempt }, 'webhook delivery round failed for one delivery');
          continue;
        }
        outcomes.inc({ outcome });
        if (outcome === 'delivered') report.delivered++;
        else if (outcome === 'retrying') report.retrying++;
        else if (outcome === 'gave_up') report.gaveUp++;
        else report.leaseLost++;
      }
    };
    await Promise.all(Array.from({ length: Math.min(concurrency, due.length) }, worker));
    return report;
  }

  const loop = startPeriodicLoop({
    name: 'webhook-delivery',
    intervalMs,
    logger,
    tick: async () => {
      const r = await runOnce();
      return r.taken >= batch;
    },
  });
  return { stop: () => loop.stop(), runOnce };
}
