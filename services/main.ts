/**
 * `npm start`: the embedded single-process server — the API and one worker in this process,
 * tasks in PGlite under DATA_DIR, dispatch and events in-process, files under DATA_DIR
 * (unless DATABASE_URL / NATS_URL / S3_BUCKET say otherwise: the same code runs on servers).
 * This is what FooocusAPI users run today: one process, one GPU (or the CPU), no servers.
 *
 * The API and the worker get the SAME backends object (createBackends with role
 * 'embedded'): in-process dispatch and events exist only inside it.
 */
import { parseApiConfig } from './api/config.ts';
import { runOrExit, startApiProcess } from './api/startApiProcess.ts';
import { parseWorkerConfig } from './worker/config.ts';
import { startWorker } from './worker/startWorker.ts';

async function main(): Promise<void> {
  const config = parseApiConfig(process.env);
  const workerConfig = parseWorkerConfig(process.env);
  const { serving, backends, logger } = await startApiProcess({
    role: 'embedded',
    config,
    startAlongside: async (deps) => {
      const worker = await startWorker(workerConfig, deps.backends, { logger: deps.logger, registry: deps.registry });
      return { stop: () => worker.stop({ graceMs: workerConfig.SHUTDOWN_GRACE_MS }) };
    },
  });
  logger.info({ url: serving.url, models: workerConfig.MODELS_DIR, wiring: backends.wiring }, 'fooocus-cloud is ready');
  process.stdout.write(`fooocus-cloud listening on ${serving.url} (API docs: ${serving.url}/docs)\n`);
}

runOrExit('fooocus-cloud', main);
