/**
 * createApp: the Express application over the four ports. No driver type appears here —
 * the caller (services/api/main.ts for the cluster, services/main.ts embedded, the tests)
 * builds the backends and hands them in.
 *
 * Middleware order (api-contract §0): request metrics → routes from the route table (each
 * route: error style → its body parser → X-API-KEY → handler) → the Starlette-like fallback
 * (405 / 307 trailing-slash redirect / 404) → the one error mapper. Routing is strict
 * (`/a` ≠ `/a/`) and case-sensitive, as Starlette's.
 *
 * CORS: FooocusAPI allows every origin, method and header (with credentials), which its
 * example HTML page relies on; we answer the same (reflecting the Origin).
 */
import express, { type Express, type NextFunction, type Request, type Response } from 'express';
import { pino, type Logger } from 'pino';
import { Registry } from 'prom-client';
import type { BlobStore, Dispatcher, EventBus, TaskStore } from '../core/ports.ts';
import type { PresetMap } from '../core/presets/loadPresets.ts';
import { defaultStyleCatalog, type StyleCatalog } from '../core/styles/styleCatalog.ts';
import { listModelFiles } from '../infra/models/modelDirectory.ts';
import { publicBaseUrl, type ApiConfig } from './config.ts';
import { resolveJobImages as resolveJobImagesWith } from './edge/resolveJobImages.ts';
import { createUrlFetcher, type UrlFetcher } from './edge/urlFetch/index.ts';
import type { ApiContext, ModelCatalog, ReadinessCheck, ResolveJobImages } from './http/apiContext.ts';
import { createApiKeyVerifier, requireApiKey } from './http/apiKeyAuth.ts';
import { errorMapper } from './http/errorMapper.ts';
import { httpMetrics } from './http/httpMetrics.ts';
import { legacyRoutes } from './legacy/index.ts';
import { registerRoutes, slashRedirectAndNotFound } from './http/routeTable.ts';
import { blobUrl } from './responses/resultUrls.ts';
import { controlRoutes } from './routes/control.ts';
import { docsRoutes } from './routes/docs.ts';
import { enginesRoutes } from './routes/engines.ts';
import { filesRoutes } from './routes/files.ts';
import { generateRoutes, newTaskId } from './routes/generate.ts';
import { healthRoutes } from './routes/health.ts';
import { metricsRoutes } from './routes/metrics.ts';
import { tasksRoutes } from './routes/tasks.ts';
import { toolsRoutes } from './routes/tools.ts';
import { SseHub } from './sse.ts';

export interface CreateAppOptions {
  store: TaskStore;
  dispatcher: Dispatcher;
  events: EventBus;
  blobs: BlobStore;
  config: ApiConfig;
  /** Presets by name (loadPresets(PRESETS_DIR)). */
  presets: PresetMap;
  /** Default: a silent pino logger. */
  logger?: Logger;
  /** Metrics registry (one per test). Default: a fresh Registry. */
  registry?: Registry;
  /** Default: the bundled 279-name catalog. */
  styles?: StyleCatalog;
  /** Default: config.MODELS_DIR's checkpoints/ and loras/ folders, rescanned per call. */
  models?: ModelCatalog;
  /**
   * SSRF-safe fetcher for URL image inputs and webhook_url checks. Default: createUrlFetcher
   * with URL_FETCH_TIMEOUT_MS, URL_FETCH_MAX_REDIRECTS, MAX_IMAGE_BYTES, URL_ALLOW_PRIVATE.
   */
  urlFetcher?: UrlFetcher;
  /** Default: edge/resolveJobImages with the fetcher, blobs and image limits. */
  resolveJobImages?: ResolveJobImages;
  /** Default: the task store (critical) and the dispatcher (non-critical). */
  readiness?: ReadinessCheck[];
  /** Task id source. Default: uuid4 hex (FooocusAPI). */
  newTaskId?: () => string;
}

export interface ApiApp {
  readonly app: Express;
  readonly sse: SseHub;
  /** Graceful shutdown step: /readyz answers 503 and every open SSE stream is ended with a `retry:` hint. */
  beginDrain(): void;
}

export function createApp(options: CreateAppOptions): ApiApp {
  const { config } = options;
  const logger = options.logger ?? pino({ level: 'silent' });
  const registry = options.registry ?? new Registry();
  const base = publicBaseUrl(config);
  const urlFetcher =
    options.urlFetcher ??
    createUrlFetcher({
      timeoutMs: config.URL_FETCH_TIMEOUT_MS,
      maxRedirects: config.URL_FETCH_MAX_REDIRECTS,
      maxBytes: config.MAX_IMAGE_BYTES,
      allowPrivate: config.URL_ALLOW_PRIVATE,
    });
  const resolveJobImages: ResolveJobImages =
    options.resolveJobImages ??
    ((job) =>
      resolveJobImagesWith(job, {
        fetcher: urlFetcher,
        blobs: options.blobs,
        maxBytes: config.MAX_IMAGE_BYTES,
        maxPixels: config.MAX_IMAGE_PIXELS,
        inputUrl: (key) => blobUrl(base, key),
      }));
  const models: ModelCatalog = options.models ?? {
    list: async () => ({
      checkpoints: await listModelFiles(config.MODELS_DIR, 'checkpoints'),
      loras: await listModelFiles(config.MODELS_DIR, 'loras'),
    }),
  };
  const readiness: ReadinessCheck[] = options.readiness ?? [
    { name: 'task_store', critical: true, check: async () => void (await options.store.list({ pageSize: 1 })) },
    { name: 'dispatcher', critical: false, check: async () => void (await options.dispatcher.stats()) },
  ];
  const sse = new SseHub({ pingMs: config.SSE_PING_MS, eventIds: config.SSE_EVENT_IDS, retryMs: config.SSE_RETRY_MS });

  const ctx: ApiContext = {
    store: options.store,
    dispatcher: options.dispatcher,
    events: options.events,
    blobs: options.blobs,
    config,
    logger,
    registry,
    presets: options.presets,
    styles: options.styles ?? defaultStyleCatalog(),
    models,
    resolveJobImages,
    urlFetcher,
    readiness,
    sse,
    publicBaseUrl: base,
    newTaskId: options.newTaskId ?? newTaskId,
  };

  let draining = false;
  const app = express();
  app.set('strict routing', true);
  app.set('case sensitive routing', true);
  app.set('x-powered-by', false);
  app.set('trust proxy', true);
  app.use(httpMetrics(registry));
  app.use(cors);

  const verifier = createApiKeyVerifier({ keys: config.API_KEYS, sha256Digests: config.API_KEY_SHA256 });
  const matcher = registerRoutes(
    app,
    [
      docsRoutes(ctx),
      generateRoutes(ctx),
      controlRoutes(ctx),
      toolsRoutes(ctx),
      tasksRoutes(ctx),
      filesRoutes(ctx),
      enginesRoutes(ctx),
      healthRoutes(ctx, { draining: () => draining }),
      metricsRoutes(ctx),
      legacyRoutes(ctx),
    ],
    requireApiKey(verifier),
  );
  app.use(slashRedirectAndNotFound(matcher));
  app.use(errorMapper(logger));

  return {
    app,
    sse,
    beginDrain() {
      draining = true;
      sse.drain(config.SSE_RETRY_MS);
    },
  };
}

/** FastAPI's CORSMiddleware(allow_origins=*, allow_methods=*, allow_headers=*, allow_credentials=True). */
function cors(req: Request, res: Response, next: NextFunction): void {
  const origin = req.get('origin');
  if (origin) {
    res.set('Access-Control-Allow-Origin', origin);
    res.set('Access-Control-Allow-Credentials', 'true');
    res.append('Vary', 'Origin');
    res.set('Access-Control-Expose-Headers', 'X-Task-Id');
  }
  if (req.method === 'OPTIONS' && origin && req.get('access-control-request-method')) {
    res.set('Access-Control-Allow-Methods', 'DELETE, GET, HEAD, OPTIONS, PATCH, POST, PUT');
    const requested = req.get('access-control-request-headers');
    if (requested) res.set('Access-Control-Allow-Headers', requested);
    res.set('Access-Control-Max-Age', '600');
    res.status(200).type('text/plain').send('OK');
    return;
  }
  next();
}
