/**
 * Storage and messaging settings shared by the API and the worker. What is
 * set decides the wiring: DATABASE_URL → Postgres (else PGlite under
 * DATA_DIR), NATS_URL → JetStream (else in-process, which only works when API
 * and worker share one process), S3_BUCKET → S3 (else files under DATA_DIR).
 */
import { z } from 'zod';
import { envBool, envInt } from './envHelpers.ts';

export const storageEnvSchema = z.object({
  /** Local state for embedded mode: PGlite database and files. Default ./data */
  DATA_DIR: z.string().default('./data'),
  /** postgres://… — unset: embedded PGlite in DATA_DIR/pglite. */
  DATABASE_URL: z.string().url().optional(),
  /** Pool size per process. Default 10. */
  DATABASE_POOL_MAX: envInt(10, 1, 200),
  /** nats://host:port[,nats://…] — unset: in-process dispatch and events. */
  NATS_URL: z.string().optional(),
  /** JetStream stream and consumer names. */
  NATS_STREAM: z.string().default('FOOOCUS_TASKS'),
  NATS_CONSUMER: z.string().default('fooocus-workers'),
  /** S3-compatible storage; unset bucket: files under DATA_DIR/files. */
  S3_BUCKET: z.string().optional(),
  S3_ENDPOINT: z.string().url().optional(),
  S3_REGION: z.string().default('us-east-1'),
  S3_ACCESS_KEY_ID: z.string().optional(),
  S3_SECRET_ACCESS_KEY: z.string().optional(),
  /** Path-style addressing (MinIO, Swift, s3rver). Default true. */
  S3_FORCE_PATH_STYLE: envBool(true),
  /** Create the bucket at start-up when missing. Default false. */
  S3_CREATE_BUCKET: envBool(false),
  /**
   * Dispatch consumer settings. Shared by the API and the worker because both open the same
   * durable consumer (JetStream create-or-update), and differing values would flip its config
   * back and forth. ACK_WAIT_MS: a silent worker's task is redelivered after it (heartbeats
   * and progress reset it). Default 60 s.
   */
  ACK_WAIT_MS: envInt(60_000, 1000),
  /** Deliveries of one task before it is failed for good (worker_crash). Default 3. */
  MAX_DELIVERIES: envInt(3, 1, 100),
});

export type StorageEnv = z.infer<typeof storageEnvSchema>;
