/**
 * The cluster API deployable: API replicas on Postgres + JetStream + S3 (createBackends with
 * role 'api' refuses to start without DATABASE_URL and NATS_URL). Migrations are NOT run
 * here — the Helm pre-install/pre-upgrade hook runs services/api/migrate.ts — the wiring
 * only checks the schema is current.
 *
 * Runs the HTTP app and the API tier's background loops (outbox relay, reconciler, webhook
 * delivery). SIGTERM: /readyz turns 503, SSE clients are told to reconnect (`retry:`) and
 * their streams ended, in-flight requests get SHUTDOWN_GRACE_MS, then loops and backends
 * close.
 */
import { pino } from 'pino';
import { collectDefaultMetrics, Registry } from 'prom-client';
import { loadPresets } from '../core/presets/loadPresets.ts';
import { defaultStyleCatalog } from '../core/styles/styleCatalog.ts';
import { createBackends } from '../wiring/createBackends.ts';
import { createApp } from './app.ts';
import { startBackgroundLoops } from './backgroundLoops.ts';
import { parseApiConfig } from './config.ts';
import { exitOnSignals, serve } from './http/serve.ts';

async function main(): Promise<void> {
  const config = parseApiConfig(process.env);
  const logger = pino({ level: config.LOG_LEVEL });
  const registry = new Registry();
  collectDefaultMetrics({ register: registry, prefix: 'fooocus_process_' });

  const presets = await loadPresets(config.PRESETS_DIR, { styleNames: defaultStyleCatalog() });
  const backends = await createBackends(config, { role: 'api', logger });
  const api = createApp({ ...backends, config, logger, registry, presets });
  const loops = startBackgroundLoops({ ...backends, config, logger, registry });
  const serving = await serve(api, {
    host: config.HOST,
    port: config.PORT,
    logger,
    graceMs: config.SHUTDOWN_GRACE_MS,
    cleanup: async () => {
      await loops.stop();
      await backends.close();
    },
  });
  exitOnSignals(serving, logger);
  logger.info({ url: serving.url, wiring: backends.wiring }, 'fooocus-cloud API ready');
}

main().catch((err) => {
  process.stderr.write(`fooocus-cloud API failed to start: ${err instanceof Error ? err.message : String(err)}\n`);
  process.exit(1);
});
