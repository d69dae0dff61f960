// The whole service in this test process, for end-to-end tests: the real API (createApp), the
// real worker (startWorker, engine thread on the tiny golden checkpoint) and one of the two
// wirings:
// - 'embedded': PGlite + in-process dispatch/events + local files, ONE backends object shared
//   by API and worker (exactly `npm start`);
// - 'cluster': Postgres + JetStream + S3 (servers from test/harness), and SEPARATE backends
//   objects (connections) for the API and the worker, as two deployables would have.
import { copyFileSync, linkSync, mkdirSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { pino } from 'pino';
import { Registry } from 'prom-client';
import { loadPresets } from '../../services/core/presets/loadPresets.ts';
import { createApp, type ApiApp } from '../../services/api/app.ts';
import { startBackgroundLoops } from '../../services/api/backgroundLoops.ts';
import { parseApiConfig, type ApiConfig } from '../../services/api/config.ts';
import { serve, type Serving } from '../../services/api/http/serve.ts';
import { createBackends, type Backends } from '../../services/wiring/createBackends.ts';
import { parseWorkerConfig } from '../../services/worker/config.ts';
import { startWorker, type StartedWorker } from '../../services/worker/startWorker.ts';
import { freePort, startNats, startPostgres, startS3 } from '../harness/index.ts';

export type Wiring = 'embedded' | 'cluster';

export const SHARED = process.env.FOOOCUS_SHARED ?? resolve(import.meta.dirname, '../../../shared');
export const CHECKPOINT_NAME = 'tiny-sdxl.safetensors';
/** FooocusAPI's default LoRA slot (default preset): provisioned with a tiny LoRA so default requests run. */
export const DEFAULT_LORA_NAME = 'sd_xl_offset_example-lora_1.0.safetensors';
/** The tiny LoRA (kohya, matches the tiny checkpoint) used for the default and performance LoRA names. */
export const TINY_LORA = join(SHARED, 'golden-features', 'loras', 'tiny-lora-kohya-r4.safetensors');
/** The tiny GPT-2 expansion folder of the golden set (Fooocus' layout, its own short word list). */
export const TINY_EXPANSION = join(SHARED, 'golden-features', 'prompt_expansion', 'fooocus_expansion_tiny');
export const API_KEY = 'test-key-1';
export const OTHER_API_KEY = 'test-key-2';

export interface ApiService {
  readonly wiring: Wiring;
  readonly baseUrl: string;
  readonly apiBackends: Backends;
  readonly config: ApiConfig;
  readonly api: ApiApp;
  readonly registry: Registry;
  stop(): Promise<void>;
}

/**
 * A models folder with the tiny checkpoint HARD-linked (a symlink would let onnxruntime see
 * the external-data path escape the folder) or copied, plus a graph cache shared by every
 * service of the test file so the ONNX graphs are built once. It also holds what FooocusAPI's
 * default request needs, as real clients send the defaults: the offset LoRA name (a tiny
 * LoRA) and the Fooocus V2 expansion folder (the tiny GPT-2).
 */
export function prepareModelsDir(root: string): { modelsDir: string; cacheDir: string } {
  const modelsDir = join(root, 'models');
  mkdirSync(join(modelsDir, 'checkpoints'), { recursive: true });
  mkdirSync(join(modelsDir, 'loras'), { recursive: true });
  linkOrCopy(join(SHARED, 'golden', CHECKPOINT_NAME), join(modelsDir, 'checkpoints', CHECKPOINT_NAME));
  linkOrCopy(TINY_LORA, join(modelsDir, 'loras', DEFAULT_LORA_NAME));
  provisionExpansion(modelsDir, TINY_EXPANSION);
  return { modelsDir, cacheDir: join(root, 'onnx-cache') };
}

/** Copies (hard-links) an expansion folder's files to `<modelsDir>/prompt_expansion/fooocus_expansion/`. */
export function provisionExpansion(modelsDir: string, source: string): string {
  const folder = join(modelsDir, 'prompt_expansion', 'fooocus_expansion');
  mkdirSync(folder, { recursive: true });
  for (const name of readdirSync(source)) linkOrCopy(join(source, name), join(folder, name));
  return folder;
}

export function linkOrCopy(source: string, target: string): void {
  try {
    linkSync(source, target);
  } catch {
    copyFileSync(source, target);
  }
}

export async function startApiService(
  wiring: Wiring,
  options: { modelsDir: string; cacheDir: string; env?: Record<string, string> },
): Promise<ApiService> {
  const root = mkdtempSync(join(tmpdir(), `fooocus-e2e-${wiring}-`));
  const stops: (() => Promise<void>)[] = [];
  const stopAll = async () => {
    for (const stop of stops.splice(0).reverse()) await stop().catch(() => {});
    rmSync(root, { recursive: true, force: true });
  };
  try {
    const port = await freePort();
    const env: Record<string, string> = {
      PORT: String(port),
      HOST: '127.0.0.1',
      PUBLIC_BASE_URL: `http://127.0.0.1:${port}`,
      DATA_DIR: join(root, 'data'),
      MODELS_DIR: options.modelsDir,
      PRESETS_DIR: resolve(import.meta.dirname, '../../presets'),
      API_KEYS: `${API_KEY},${OTHER_API_KEY}`,
      SSE_PING_MS: '1000',
      SYNC_RECHECK_MS: '5000',
      SHUTDOWN_GRACE_MS: '1000',
      ENGINE_CACHE_DIR: options.cacheDir,
      WORKER_ID: `e2e-${wiring}`,
      HEARTBEAT_INTERVAL_MS: '1000',
      URL_ALLOW_PRIVATE: 'true', // the webhook receiver listens on 127.0.0.1
      WEBHOOK_POLL_INTERVAL_MS: '100',
      OUTBOX_RELAY_INTERVAL_MS: '100',
      LOG_LEVEL: process.env.E2E_LOG_LEVEL ?? 'silent',
      ...options.env,
    };
    if (wiring === 'cluster') {
      const [pgServer, nats, s3] = await Promise.all([startPostgres(), startNats(), startS3()]);
      stops.push(() => pgServer.stop(), () => nats.stop(), () => s3.stop());
      Object.assign(env, {
        DATABASE_URL: pgServer.url,
        NATS_URL: nats.url,
        S3_BUCKET: s3.buckets[0],
        S3_ENDPOINT: s3.endpoint,
        S3_REGION: s3.region,
        S3_ACCESS_KEY_ID: s3.credentials.accessKeyId,
        S3_SECRET_ACCESS_KEY: s3.credentials.secretAccessKey,
      });
    }
    const config = parseApiConfig(env);
    const workerConfig = parseWorkerConfig(env);
    const logger = pino({ level: config.LOG_LEVEL });

    const apiBackends = await createBackends(config, { role: wiring === 'cluster' ? 'api' : 'embedded', migrate: true, logger });
    stops.push(() => apiBackends.close());
    const workerBackends = wiring === 'cluster' ? await createBackends(config, { role: 'worker', logger }) : apiBackends;
    if (workerBackends !== apiBackends) stops.push(() => workerBackends.close());

    const worker: StartedWorker = await startWorker(workerConfig, workerBackends, { logger });
    stops.push(() => worker.stop({ graceMs: 0 }));

    const registry = new Registry();
    const presets = await loadPresets(config.PRESETS_DIR);
    const api = createApp({ ...apiBackends, config, logger, registry, presets });
    const loops = startBackgroundLoops({ ...apiBackends, config, logger, registry });
    stops.push(() => loops.stop());
    const serving: Serving = await serve(api, { host: config.HOST, port: config.PORT, logger, graceMs: 500, cleanup: async () => {} });
    stops.push(() => serving.shutdown('test end'));

    return { wiring, baseUrl: serving.url, apiBackends, config, api, registry, stop: stopAll };
  } catch (err) {
    await stopAll();
    throw err;
  }
}
