/**
 * The API tier's background loops, started by both entries (services/api/main.ts and the
 * embedded services/main.ts): the outbox relay (publishes committed dispatches, I3), the
 * reconciler (requeues stale running tasks, republishes queued ones, B2) and webhook delivery
 * (Standard Webhooks signatures, retries, B8). The loops live in services/api/background;
 * this file only starts and stops them with the API's config.
 *
 * The webhook body is FooocusAPI's (a JSON string holding the record, §5.1) rendered with the
 * same record view as the sync reply and /tasks (responses/fooocusRecord.ts), so `req_params`
 * is FooocusAPI's processed request — not the stored GenerationJob — and the seed is a bare
 * integer. Tasks created through the Fooocus-API (old) routes get that project's body instead
 * (`{"job_id", "job_result": [{url, seed}]}`, §5.2; services/api/legacy/legacyWebhookBody.ts).
 */
import type { Logger } from 'pino';
import type { Registry } from 'prom-client';
import type { BlobStore, Dispatcher, EventBus, TaskStore } from '../core/ports.ts';
import { pythonJsonDumps } from './background/fooocusWebhookBody.ts';
import { startOutboxRelay } from './background/outboxRelay.ts';
import { startReconciler } from './background/reconciler.ts';
import { startWebhookDelivery } from './background/webhookDelivery.ts';
import { publicBaseUrl, type ApiConfig } from './config.ts';
import { createUrlFetcher, type UrlFetcher } from './edge/urlFetch/index.ts';
import { legacyMarkerOf } from './legacy/legacyTask.ts';
import { renderLegacyWebhookBody } from './legacy/legacyWebhookBody.ts';
import { taskRow } from './responses/fooocusRecord.ts';
import { blobUrl } from './responses/resultUrls.ts';

export interface BackgroundLoopsOptions {
  store: TaskStore;
  dispatcher: Dispatcher;
  events: EventBus;
  blobs: BlobStore;
  config: ApiConfig;
  logger: Logger;
  registry: Registry;
  /** Default: createUrlFetcher with URL_ALLOW_PRIVATE and WEBHOOK_TIMEOUT_MS. */
  fetcher?: UrlFetcher;
}

export interface BackgroundLoops {
  stop(): Promise<void>;
}

export function startBackgroundLoops(options: BackgroundLoopsOptions): BackgroundLoops {
  const { store, dispatcher, config, logger, registry } = options;
  const base = publicBaseUrl(config);
  const fetcher = options.fetcher ?? createUrlFetcher({ allowPrivate: config.URL_ALLOW_PRIVATE, timeoutMs: config.WEBHOOK_TIMEOUT_MS });

  const relay = startOutboxRelay({ store, dispatcher, intervalMs: config.OUTBOX_RELAY_INTERVAL_MS, logger, registry });
  const reconciler = startReconciler({
    store,
    dispatcher,
    heartbeatTimeoutMs: config.HEARTBEAT_TIMEOUT_MS,
    queuedOlderThanMs: config.RECONCILE_AFTER_MS,
    maxAttempts: config.MAX_DELIVERIES,
    intervalMs: config.RECONCILE_INTERVAL_MS,
    logger,
    registry,
  });
  const webhooks = startWebhookDelivery({
    store,
    fetcher,
    outputUrl: (key) => blobUrl(base, key),
    renderBody: (_delivery, task) => {
      if (!task) return null;
      if (legacyMarkerOf(task)) return renderLegacyWebhookBody(task, { publicBaseUrl: base });
      const record = pythonJsonDumps(taskRow(task, { publicBaseUrl: base, fooocusFailures: config.FOOOCUS_STATUS_COMPAT }));
      return JSON.stringify(record.replace(/"image_seed": "(-?\d+)"/, '"image_seed": $1'));
    },
    secret: config.WEBHOOK_SECRET,
    maxAttempts: config.WEBHOOK_MAX_ATTEMPTS,
    timeoutMs: config.WEBHOOK_TIMEOUT_MS,
    intervalMs: config.WEBHOOK_POLL_INTERVAL_MS,
    logger,
    registry,
  });
  return {
    async stop() {
      await Promise.all([relay.stop(), reconciler.stop(), webhooks.stop()]);
    },
  };
}
