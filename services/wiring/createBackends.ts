// Builds the four ports from the storage configuration, once, at start-up (STYLE.md: "chosen
// once at start-up from config"): what is set decides the wiring.
//
//   DATABASE_URL set → Postgres server     unset → PGlite in DATA_DIR/pglite (migrated at start)
//   NATS_URL set     → JetStream           unset → in-process dispatcher and event bus
//   S3_BUCKET set    → S3(-compatible)     unset → files under DATA_DIR/files
//
// Embedded mode (`npm start`, role 'embedded') runs the API and a worker in ONE process and
// must hand both the SAME Backends object: the in-process dispatcher and bus exist only in
// this object (`processLocal: true` says so), and PGlite allows one process per directory. A
// deployable that runs alone (role 'api' or 'worker') therefore refuses to start without
// DATABASE_URL and NATS_URL: a worker with a private in-process queue would wait forever.
// Local files are allowed for separate processes (a shared volume can make that work) but
// logged as a warning.
//
// Boot errors are BackendBootError naming the setting (DATABASE_URL, NATS_URL, S3_ENDPOINT,
// DATA_DIR); whatever was opened before the failure is closed again.
import type { Logger } from 'pino';
import type { BlobStore, Dispatcher, EventBus } from '../core/ports.ts';
import type { StorageEnv } from '../config/storageConfig.ts';
import type { PostgresTaskStore } from '../infra/postgres/createPostgresTaskStore.ts';
import { BackendBootError } from './backendBootError.ts';
import { openBlobStore } from './openBlobStore.ts';
import { openMessaging } from './openMessaging.ts';
import { openTaskStore } from './openTaskStore.ts';

export type ProcessRole = 'embedded' | 'api' | 'worker';

export interface CreateBackendsOptions {
  /**
   * Apply database migrations at start. Default: true for PGlite (embedded), false for a
   * Postgres server (cluster: `services/api/migrate.ts` runs them; start-up only checks).
   */
  migrate?: boolean;
  /**
   * Which deployable this process is. 'embedded' (default): API and worker share this
   * process and this Backends object. 'api' / 'worker': separate processes, which need
   * DATABASE_URL and NATS_URL.
   */
  role?: ProcessRole;
  /** Start-up log lines and the adapters' survivable errors. Default: silent. */
  logger?: Logger;
  /** Time allowed to reach each server at start. Default 10 000 ms. */
  connectTimeoutMs?: number;
  /** NATS client name (shows in the server's connz). Default `fooocus-<role>`. */
  clientName?: string;
}

export interface Backends {
  readonly store: PostgresTaskStore;
  readonly dispatcher: Dispatcher;
  readonly events: EventBus;
  readonly blobs: BlobStore;
  /** Which adapter each port got. */
  readonly wiring: { database: 'postgres' | 'pglite'; messaging: 'jetstream' | 'in-process'; blobs: 's3' | 'fs' };
  /**
   * True when dispatch and events live only in this process (in-process adapters): the API
   * and the worker work together only if both are given this same object.
   */
  readonly processLocal: boolean;
  /** Closes messaging, then blobs, then the database. Idempotent. */
  close(): Promise<void>;
}

export async function createBackends(config: StorageEnv, options: CreateBackendsOptions = {}): Promise<Backends> {
  const role = options.role ?? 'embedded';
  const logger = options.logger;
  const connectTimeoutMs = options.connectTimeoutMs ?? 10_000;
  if (role !== 'embedded') {
    if (!config.DATABASE_URL) {
      throw new BackendBootError(
        'DATABASE_URL',
        `required when the ${role} runs as its own process (embedded PGlite belongs to one process); unset it only for the single-process \`npm start\``,
      );
    }
    if (!config.NATS_URL) {
      throw new BackendBootError(
        'NATS_URL',
        `required when the ${role} runs as its own process (the in-process queue cannot reach other processes); unset it only for the single-process \`npm start\``,
      );
    }
    if (!config.S3_BUCKET) {
      logger?.warn({ dataDir: config.DATA_DIR }, 'S3_BUCKET is not set: outputs go to local files, which other processes see only through a shared volume');
    }
  }

  const closers: (() => Promise<void>)[] = [];
  const closeAll = async () => {
    for (const close of closers.splice(0).reverse()) await close().catch((err) => logger?.error({ err }, 'closing a backend failed'));
  };
  try {
    const database = await openTaskStore(config, { migrate: options.migrate, connectTimeoutMs });
    closers.push(() => database.connection.close());
    const blobs = await openBlobStore(config);
    closers.push(blobs.close);
    const messaging = await openMessaging(config, {
      connectTimeoutMs,
      clientName: options.clientName ?? `fooocus-${role}`,
      onError: (err) => logger?.warn({ err }, 'messaging error (recovered)'),
    });
    closers.push(messaging.close);

    logger?.info(
      { database: `${database.kind} ${database.location}`, messaging: `${messaging.kind} ${messaging.location}`, blobs: `${blobs.kind} ${blobs.location}` },
      'backends ready',
    );
    let closed: Promise<void> | null = null;
    return {
      store: database.store,
      dispatcher: messaging.dispatcher,
      events: messaging.events,
      blobs: blobs.blobs,
      wiring: { database: database.kind, messaging: messaging.kind, blobs: blobs.kind },
      processLocal: messaging.kind === 'in-process',
      close: () => (closed ??= closeAll()),
    };
  } catch (err) {
    await closeAll();
    throw err;
  }
}
