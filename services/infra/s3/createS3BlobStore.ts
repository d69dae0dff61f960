// BlobStore on S3 or an S3-compatible server (MinIO, Swift s3api, s3rver in tests).
//
// - Checksums: requestChecksumCalculation/responseChecksumValidation 'WHEN_REQUIRED'. Since
//   SDK ~3.729 the default sends streaming PutObject bodies aws-chunked with a trailing
//   checksum, which s3rver stores corrupted and Swift rejects (environment.md §4).
// - Streams go through lib-storage Upload (multipart above partSizeBytes, concurrent parts),
//   so large converted models are never buffered whole; byte bodies use one PutObject.
// - delete() uses DeleteObjects in batches of 1000 (the S3 limit), quiet mode.
// - Keys pass assertBlobKey first, so behaviour matches the file-system store exactly.
// - 5xx, throttling and network errors are re-thrown as TransientInfraError (cause kept).
import {
  CreateBucketCommand,
  DeleteObjectsCommand,
  GetObjectCommand,
  HeadBucketCommand,
  HeadObjectCommand,
  PutObjectCommand,
  S3Client,
} from '@aws-sdk/client-s3';
import { Upload } from '@aws-sdk/lib-storage';
import { Readable } from 'node:stream';
import type { BlobStore } from '../../core/ports.ts';
import { TransientInfraError } from '../../core/errors.ts';
import { assertBlobKey } from '../blobKey.ts';

export interface S3BlobStoreOptions {
  /** e.g. `http://127.0.0.1:9000`; omit for AWS. */
  endpoint?: string;
  /** Default 'us-east-1'. */
  region?: string;
  bucket: string;
  /** Omit to use the SDK's default chain (env, IRSA, instance profile). */
  credentials?: { accessKeyId: string; secretAccessKey: string; sessionToken?: string };
  /** Path-style URLs (`endpoint/bucket/key`), needed by most S3-compatible servers. Default false. */
  forcePathStyle?: boolean;
  /** Create the bucket at start-up when it does not exist. Default false. */
  createBucketIfMissing?: boolean;
  /** Prepended to every key, e.g. 'fooocus/'. Default ''. */
  keyPrefix?: string;
  /** Multipart part size for streamed puts. Default 8 MiB (S3 minimum 5 MiB). */
  partSizeBytes?: number;
  /** Parts uploaded concurrently. Default 4. */
  queueSize?: number;
}

export interface S3BlobStore extends BlobStore {
  /** Releases the SDK's sockets. */
  close(): void;
}

const TRANSIENT_NAMES = new Set(['TimeoutError', 'RequestTimeout', 'RequestTimeTooSkewed', 'SlowDown', 'ServiceUnavailable', 'InternalError', 'ThrottlingException']);
const TRANSIENT_CODES = new Set(['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'EPIPE', 'EHOSTUNREACH', 'ENOTFOUND', 'EAI_AGAIN']);

/** 5xx, throttling and network failures become TransientInfraError (HTTP 503 / worker nak). */
function translateS3Error(err: unknown): unknown {
  const e = err as { name?: string; code?: string; $metadata?: { httpStatusCode?: number } } | null;
  const transient =
    !!e &&
    ((e.$metadata?.httpStatusCode ?? 0) >= 500 || TRANSIENT_NAMES.has(e.name ?? '') || TRANSIENT_CODES.has(e.code ?? ''));
  return transient ? new TransientInfraError(`object store unavailable: ${(err as Error).message}`, { cause: err }) : err;
}

function isNotFound(err: unknown): boolean {
  const e = err as { name?: string; $metadata?: { httpStatusCode?: number } };
  return e?.name === 'NoSuchKey' || e?.name === 'NotFound' || e?.name === 'NoSuchBucket' || e?.$metadata?.httpStatusCode === 404;
}

export async function createS3BlobStore(options: S3BlobStoreOptions): Promise<S3BlobStore> {
  const { bucket, keyPrefix = '', partSizeBytes = 8 * 1024 * 1024, queueSize = 4 } = options;
  const client = new S3Client({
    endpoint: options.endpoint,
    region: options.region ?? 'us-east-1',
    credentials: options.credentials,
    forcePathStyle: options.forcePathStyle ?? false,
    requestChecksumCalculation: 'WHEN_REQUIRED',
    responseChecksumValidation: 'WHEN_REQUIRED',
  });

  if (options.createBucketIfMissing) {
    try {
      await client.send(new HeadBucketCommand({ Bucket: bucket }));
    } catch (err) {
      if (!isNotFound(err)) throw err;
      await client.send(new CreateBucketCommand({ Bucket: bucket })).catch((createErr: { name?: string }) => {
        // Another replica created it first.
        if (createErr?.name !== 'BucketAlreadyOwnedByYou' && createErr?.name !== 'BucketAlreadyExists') throw createErr;
      });
    }
  }

  const objectKey = (key: string) => keyPrefix + assertBlobKey(key);

  const store: S3BlobStore = {
    async put(key, body, contentType) {
      const Key = objectKey(key);
      if (body instanceof Uint8Array) {
        await client.send(new PutObjectCommand({ Bucket: bucket, Key, Body: body, ContentType: contentType }));
        return;
      }
      const upload = new Upload({
        client,
        params: { Bucket: bucket, Key, Body: Readable.from(body), ContentType: contentType },
        partSize: partSizeBytes,
        queueSize,
        leavePartsOnError: false,
      });
      await upload.done();
    },

    async get(key) {
      try {
        const res = await client.send(new GetObjectCommand({ Bucket: bucket, Key: objectKey(key) }));
        const bytes = await res.Body!.transformToByteArray();
        return { bytes, contentType: res.ContentType ?? 'application/octet-stream' };
      } catch (err) {
        if (isNotFound(err)) return null;
        throw err;
      }
    },

    async delete(keys) {
      const all = keys.map(objectKey); // validate all before deleting any
      for (let i = 0; i < all.length; i += 1000) {
        const batch = all.slice(i, i + 1000);
        const res = await client.send(
          new DeleteObjectsCommand({ Bucket: bucket, Delete: { Objects: batch.map((Key) => ({ Key })), Quiet: true } }),
        );
        const failed = (res.Errors ?? []).filter((e) => e.Code !== 'NoSuchKey');
        if (failed.length > 0) throw new Error(`S3 delete failed for ${failed.length} object(s): ${failed[0].Key}: ${failed[0].Code}`);
      }
    },

    async exists(key) {
      try {
        await client.send(new HeadObjectCommand({ Bucket: bucket, Key: objectKey(key) }));
        return true;
      } catch (err) {
        if (isNotFound(err)) return false;
        throw err;
      }
    },

    close() {
      client.destroy();
    },
  };
  const guard =
    <A extends unknown[], R>(fn: (...args: A) => Promise<R>) =>
    async (...args: A): Promise<R> => {
      try {
        return await fn(...args);
      } catch (err) {
        throw translateS3Error(err);
      }
    };
  return {
    put: guard(store.put),
    get: guard(store.get),
    delete: guard(store.delete),
    exists: guard(store.exists),
    close: store.close,
  };
}
