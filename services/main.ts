/**
 * `npm start`: the embedded single-process server — the API and one worker in this process,
 * tasks in PGlite under DATA_DIR, dispatch and events in-process, files under DATA_DIR
 * (unless DATABASE_URL / NATS_URL / S3_BUCKET say otherwise: the same code runs on servers).
 * This is what FooocusAPI users run today: one process, one GPU (or the CPU), no servers.
 *
 * The API and the worker get the SAME backends object (createBackends with role
 * 'embedded'): in-process dispatch and events exist only inside it.
 */
import { pino } from 'pino';
import { collectDefaultMetrics, Registry } from 'prom-client';
import { loadPresets } from './core/presets/loadPresets.ts';
import { defaultStyleCatalog } from './core/styles/styleCatalog.ts';
import { createApp } from './api/app.ts';
import { startBackgroundLoops } from './api/backgroundLoops.ts';
import { parseApiConfig } from './api/config.ts';
import { exitOnSignals, serve } from './api/http/serve.ts';
import { createBackends } from './wiring/createBackends.ts';
import { parseWorkerConfig } from './worker/config.ts';
import { startWorker } from './worker/startWorker.ts';

async function main(): Promise<void> {
  const config = parseApiConfig(process.env);
  const workerConfig = parseWorkerConfig(process.env);
  const logger = pino({ level: config.LOG_LEVEL });
  const registry = new Registry();
  collectDefaultMetrics({ register: registry, prefix: 'fooocus_process_' });

  const presets = await loadPresets(config.PRESETS_DIR, { styleNames: defaultStyleCatalog() });
  const backends = await createBackends(config, { role: 'embedded', logger });
  const api = createApp({ ...backends, config, logger, registry, presets });
  const worker = await startWorker(workerConfig, backends, { logger, registry });
  const loops = startBackgroundLoops({ ...backends, config, logger, registry });

  const serving = await serve(api, {
    host: config.HOST,
    port: config.PORT,
    logger,
    graceMs: config.SHUTDOWN_GRACE_MS,
    cleanup: async () => {
      await loops.stop();
      await worker.stop({ graceMs: workerConfig.SHUTDOWN_GRACE_MS });
      await backends.close();
    },
  });
  exitOnSignals(serving, logger);
  logger.info({ url: serving.url, models: workerConfig.MODELS_DIR, wiring: backends.wiring }, 'fooocus-cloud is ready');
  process.stdout.write(`fooocus-cloud listening on ${serving.url} (API docs: ${serving.url}/docs)\n`);
}

main().catch((err) => {
  process.stderr.write(`fooocus-cloud failed to start: ${err instanceof Error ? err.message : String(err)}\n`);
  process.exit(1);
});
