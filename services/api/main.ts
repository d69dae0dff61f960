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
import { parseApiConfig } from './config.ts';
import { runOrExit, startApiProcess } from './startApiProcess.ts';

async function main(): Promise<void> {
  const { serving, backends, logger } = await startApiProcess({ role: 'api', config: parseApiConfig(process.env) });
  logger.info({ url: serving.url, wiring: backends.wiring }, 'fooocus-cloud API ready');
}

runOrExit('fooocus-cloud API', main);
