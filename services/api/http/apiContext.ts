/**
 * What every route group receives: the ports, the parsed config and the few services the
 * API owns (SSE hub, metrics registry). Built once by createApp; no driver type appears here.
 */
import type { Logger } from 'pino';
import type { Registry } from 'prom-client';
import type { BlobStore, Dispatcher, EventBus, TaskStore } from '../../core/ports.ts';
import type { PresetMap } from '../../core/presets/loadPresets.ts';
import type { GenerationJob } from '../../core/request/generationJob.ts';
import type { StyleCatalog } from '../../core/styles/styleCatalog.ts';
import type { ApiConfig } from '../config.ts';
import type { UrlFetcher } from '../edge/urlFetch/index.ts';
import type { SseHub } from '../sse.ts';

/** Model files the server can use, as names relative to their folder. */
export interface ModelCatalog {
  /** Rescans on every call (FooocusAPI rescans the disk for all-models). */
  list(): Promise<{ checkpoints: string[]; loras: string[] }>;
}

/**
 * Fetches/decodes the job's url/base64 images, stores them under `inputs/` and returns the
 * job with `stored` references (and `/inputs/<sha256>.png` URLs in its reqParams).
 * Provided by services/api/edge (inputImages.ts).
 */
export type ResolveJobImages = (job: GenerationJob) => Promise<GenerationJob>;

/** A named readiness probe: throws (or rejects) when the dependency is unusable. */
export interface ReadinessCheck {
  name: string;
  /** `critical`: failing makes /readyz 503; otherwise it only reports "degraded". */
  critical: boolean;
  check(): Promise<void>;
}

export interface ApiContext {
  store: TaskStore;
  dispatcher: Dispatcher;
  events: EventBus;
  blobs: BlobStore;
  config: ApiConfig;
  logger: Logger;
  registry: Registry;
  presets: PresetMap;
  styles: StyleCatalog;
  models: ModelCatalog;
  resolveJobImages: ResolveJobImages | null;
  /** SSRF-safe fetcher (edge/urlFetch); used to check webhook_url at submission. */
  urlFetcher: UrlFetcher | null;
  readiness: ReadinessCheck[];
  sse: SseHub;
  /** Result URLs are `<publicBaseUrl>/outputs/…`; no trailing slash. */
  publicBaseUrl: string;
  newTaskId: () => string;
}
