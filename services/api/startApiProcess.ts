/**
 * Start-up shared by the two processes that serve the HTTP API: the cluster API deployable
 * (services/api/main.ts, role 'api') and the embedded `npm start` (services/main.ts, role
 * 'embedded', which also runs a worker beside the API). Both build the same things in the
 * same order: logger and metrics registry, presets, backends, the app, then the background
 * loops, then listen with a graceful shutdown that stops the loops before closing the
 * backends. Only the embedded process has something to run alongside (its worker).
 */
import { pino, type Logger } from 'pino';
import { collectDefaultMetrics, Registry } from 'prom-client';
import { loadPresets } from '../core/presets/loadPresets.ts';
import { defaultStyleCatalog } from '../core/styles/styleCatalog.ts';
import { createBackends, type Backends } from '../wiring/createBackends.ts';
import { createApp } from './app.ts';
import { startBackgroundLoops } from './backgroundLoops.ts';
import type { ApiConfig } from './config.ts';
import { exitOnSignals, serve, type Serving } from './http/serve.ts';

export interface StartApiProcessOptions {
  role: 'api' | 'embedded';
  config: ApiConfig;
  /**
   * Something else this process runs on the same backends (the embedded worker): started
   * after the app is built and before the background loops; stopped on shutdown after the
   * loops, before the backends close. Default: nothing.
   */
  startAlongside?: (deps: { backends: Backends; logger: Logger; registry: Registry }) => Promise<{ stop(): Promise<void> }>;
}

export interface StartedApiProcess {
  readonly serving: Serving;
  readonly backends: Backends;
  readonly logger: Logger;
}

/** Starts the API and exits the process on SIGTERM/SIGINT after a graceful shutdown. */
export async function startApiProcess(options: StartApiProcessOptions): Promise<StartedApiProcess> {
  const { config } = options;
  const logger = pino({ level: config.LOG_LEVEL });
  const registry = new Registry();
  collectDefaultMetrics({ register: registry, prefix: 'fooocus_process_' });

  const presets = await loadPresets(config.PRESETS_DIR, { styleNames: defaultStyleCatalog() });
  const backends = await createBackends(config, { role: options.role, logger });
  const api = createApp({ ...backends, config, logger, registry, presets });
  const alongside = await options.startAlongside?.({ backends, logger, registry });
  const loops = startBackgroundLoops({ ...backends, config, logger, registry });

  const serving = await serve(api, {
    host: config.HOST,
    port: config.PORT,
    logger,
    graceMs: config.SHUTDOWN_GRACE_MS,
    cleanup: async () => {
      await loops.stop();
      await alongside?.stop();
      await backends.close();
    },
  });
  exitOnSignals(serving, logger);
  return { serving, backends, logger };
}

/** Runs `main`; a start-up failure prints one line naming `processName` and exits 1. */
export function runOrExit(processName: string, main: () => Promise<void>): void {
  main().catch((err) => {
    process.stderr.write(`${processName} failed to start: ${err instanceof Error ? err.message : String(err)}\n`);
    process.exit(1);
  });
}
