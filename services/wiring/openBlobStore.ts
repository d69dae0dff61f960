// The blob store for a configuration: S3 (or an S3-compatible server) when S3_BUCKET is set,
// else files under DATA_DIR/files. An S3 endpoint is probed once at start (a HEAD of a key
// that need not exist) so a wrong endpoint or credentials fail the boot, not the first task.
import { resolve } from 'node:path';
import type { BlobStore } from '../core/ports.ts';
import type { StorageEnv } from '../config/storageConfig.ts';
import { createFsBlobStore } from '../infra/fs/createFsBlobStore.ts';
import { createS3BlobStore } from '../infra/s3/createS3BlobStore.ts';
import { BackendBootError, errorMessage } from './backendBootError.ts';

export interface OpenedBlobStore {
  kind: 's3' | 'fs';
  blobs: BlobStore;
  location: string;
  close(): Promise<void>;
}

const PROBE_KEY = 'fooocus-boot-probe';

export async function openBlobStore(
  config: Pick<
    StorageEnv,
    'S3_BUCKET' | 'S3_ENDPOINT' | 'S3_REGION' | 'S3_ACCESS_KEY_ID' | 'S3_SECRET_ACCESS_KEY' | 'S3_FORCE_PATH_STYLE' | 'S3_CREATE_BUCKET' | 'DATA_DIR'
  >,
): Promise<OpenedBlobStore> {
  if (!config.S3_BUCKET) {
    const dir = resolve(config.DATA_DIR, 'files');
    return { kind: 'fs', blobs: createFsBlobStore(dir), location: dir, close: async () => {} };
  }
  const setting = config.S3_ENDPOINT ? 'S3_ENDPOINT' : 'S3_BUCKET';
  const location = `${config.S3_ENDPOINT ?? 'AWS S3'} bucket ${config.S3_BUCKET}`;
  if (Boolean(config.S3_ACCESS_KEY_ID) !== Boolean(config.S3_SECRET_ACCESS_KEY)) {
    throw new BackendBootError('S3_ACCESS_KEY_ID', 'set both S3_ACCESS_KEY_ID and S3_SECRET_ACCESS_KEY, or neither (SDK credential chain)');
  }
  let store: Awaited<ReturnType<typeof createS3BlobStore>> | null = null;
  try {
    store = await createS3BlobStore({
      bucket: config.S3_BUCKET,
      endpoint: config.S3_ENDPOINT,
      region: config.S3_REGION,
      credentials:
        config.S3_ACCESS_KEY_ID && config.S3_SECRET_ACCESS_KEY
          ? { accessKeyId: config.S3_ACCESS_KEY_ID, secretAccessKey: config.S3_SECRET_ACCESS_KEY }
          : undefined,
      forcePathStyle: config.S3_FORCE_PATH_STYLE,
      createBucketIfMissing: config.S3_CREATE_BUCKET,
    });
    await store.exists(PROBE_KEY);
  } catch (err) {
    store?.close();
    throw new BackendBootError(setting, `cannot use ${location}: ${errorMessage(err)}`, { cause: err });
  }
  const opened = store;
  return { kind: 's3', blobs: opened, location, close: async () => opened.close() };
}
