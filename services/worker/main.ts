// The worker deployable (cluster mode): `tsx services/worker/main.ts`.
//
// Start-up fails fast with one readable line: invalid configuration names the variable,
// an unreachable server names the setting (BackendBootError). Cluster mode needs DATABASE_URL
// and NATS_URL; migrations are not run here (services/api/migrate.ts) but checked.
//
// SIGTERM/SIGINT: stop fetching, let the running task finish within SHUTDOWN_GRACE_MS, else
// abort it and release it to another worker; then close the backends and exit 0. A second
// signal cuts the grace period to zero. (The pod's terminationGracePeriodSeconds must exceed
// SHUTDOWN_GRACE_MS; see the chart.)
import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import pino from 'pino';
import { collectDefaultMetrics, Registry } from 'prom-client';
import { createBackends } from '../wiring/createBackends.ts';
import { parseWorkerConfig } from './config.ts';
import { startMetricsServer } from './metricsServer.ts';
import { startWorker } from './startWorker.ts';

export { startWorker, type StartedWorker, type StartWorkerOptions } from './startWorker.ts';

export async function main(env: NodeJS.ProcessEnv = process.env): Promise<void> {
  const config = parseWorkerConfig(env);
  const logger = pino({ level: config.LOG_LEVEL, base: { service: 'fooocus-worker', workerId: config.WORKER_ID } });
  const registry = new Registry();
  collectDefaultMetrics({ register: registry });

  const backends = await createBackends(config, { role: 'worker', logger, clientName: `fooocus-worker-${config.WORKER_ID}` });
  const started = await startWorker(config, backends, { logger, registry });
  const metrics =
    config.METRICS_PORT > 0
      ? await startMetricsServer({
          port: config.METRICS_PORT,
          registry,
          health: () => ({ workerId: config.WORKER_ID, stopping: started.worker.stopping, task: started.worker.currentTaskId }),
        })
      : null;
  logger.info({ metricsPort: config.METRICS_PORT || null, provider: config.ENGINE_PROVIDER }, 'worker started');

  let signals = 0;
  const onSignal = (signal: NodeJS.Signals) => {
    signals++;
    const graceMs = signals === 1 ? config.SHUTDOWN_GRACE_MS : 0;
    logger.info({ signal, graceMs }, signals === 1 ? 'shutting down' : 'shutting down now');
    if (signals > 1) {
      void started.worker.stop({ graceMs: 0 });
      return;
    }
    void (async () => {
      try {
        await started.stop({ graceMs });
        await backends.close();
        await metrics?.close();
        logger.info('worker exited cleanly');
        process.exit(0);
      } catch (err) {
        logger.fatal({ err }, 'shutdown failed');
        process.exit(1);
      }
    })();
  };
  process.on('SIGTERM', onSignal);
  process.on('SIGINT', onSignal);
}

if (process.argv[1] && import.meta.url === pathToFileURL(resolve(process.argv[1])).href) {
  main().catch((err: unknown) => {
    // Config and boot errors are one line an operator can act on; the stack adds nothing.
    const message = err instanceof Error ? err.message : String(err);
    process.stderr.write(`fooocus worker failed to start: ${message}\n`);
    process.exit(1);
  });
}
