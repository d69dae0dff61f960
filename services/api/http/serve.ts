/**
 * Listening and graceful shutdown, shared by the cluster API entry (services/api/main.ts)
 * and the embedded `npm start` (services/main.ts).
 *
 * On SIGTERM/SIGINT, in order: stop accepting connections and mark /readyz 503 (the load
 * balancer drains us), tell every SSE client to reconnect elsewhere (`retry:`) and end its
 * stream, let in-flight requests (sync generations) finish within the grace period, then
 * close idle keep-alive sockets, run the caller's cleanup (background loops, worker,
 * backends) and exit. A second signal exits at once.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Logger } from 'pino';
import type { ApiApp } from '../app.ts';

export interface ServeOptions {
  host: string;
  port: number;
  logger: Logger;
  /** How long in-flight requests may take after the signal. */
  graceMs: number;
  /** Runs after the HTTP server closed (or the grace period ended). */
  cleanup: () => Promise<void>;
}

export interface Serving {
  readonly server: Server;
  /** `http://host:port` actually bound (port 0 resolved). */
  readonly url: string;
  /** The shutdown sequence; resolves when cleanup has run. */
  shutdown(reason: string): Promise<void>;
}

export async function serve(api: ApiApp, options: ServeOptions): Promise<Serving> {
  const server = createServer(api.app);
  server.keepAliveTimeout = 65_000; // longer than common load balancer idle timeouts
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port, options.host, () => resolve());
  });
  const address = server.address() as AddressInfo;
  const host = options.host === '0.0.0.0' || options.host === '::' ? '127.0.0.1' : options.host;
  const url = `http://${host.includes(':') ? `[${host}]` : host}:${address.port}`;

  let shuttingDown: Promise<void> | null = null;
  const shutdown = (reason: string) =>
    (shuttingDown ??= (async () => {
      options.logger.info({ reason, graceMs: options.graceMs }, 'shutting down: draining');
      api.beginDrain();
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      server.closeIdleConnections();
      const timer = new Promise<void>((resolve) => setTimeout(resolve, options.graceMs).unref());
      await Promise.race([closed, timer]);
      server.closeAllConnections();
      await options.cleanup().catch((err) => options.logger.error({ err }, 'cleanup failed'));
      options.logger.info('stopped');
    })());

  return { server, url, shutdown };
}

/** SIGTERM/SIGINT → shutdown then exit(0); a second signal exits at once with 130. */
export function exitOnSignals(serving: Serving, logger: Logger): void {
  let signalled = false;
  const onSignal = (signal: NodeJS.Signals) => {
    if (signalled) {
      logger.warn({ signal }, 'second signal: exiting now');
      process.exit(130);
    }
    signalled = true;
    void serving.shutdown(signal).then(() => process.exit(0));
  };
  process.on('SIGTERM', onSignal);
  process.on('SIGINT', onSignal);
}
