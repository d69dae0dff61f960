// The BlobStore contract, run unchanged against S3 (s3rver from the harness, through the AWS
// SDK) and the local file system: round trips, a multi-part streamed upload that must come
// back byte-identical (the aws-chunked pitfall of environment.md §4), and refused traversal.
import { createHash, randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TransientInfraError } from '../../services/core/errors.ts';
import type { BlobStore } from '../../services/core/ports.ts';
import { InvalidBlobKeyError } from '../../services/infra/blobKey.ts';
import { createFsBlobStore } from '../../services/infra/fs/createFsBlobStore.ts';
import { createS3BlobStore } from '../../services/infra/s3/createS3BlobStore.ts';
import { startS3, type S3Handle } from '../harness/startS3.ts';

interface Backend {
  name: string;
  open(): Promise<{ store: BlobStore; stop(): Promise<void>; parentDir?: string }>;
}

const backends: Backend[] = [
  {
    name: 's3',
    async open() {
      const s3: S3Handle = await startS3({ buckets: [] });
      const store = await createS3BlobStore({
        endpoint: s3.endpoint,
        region: s3.region,
        credentials: s3.credentials,
        bucket: 'fooocus-blobs',
        forcePathStyle: true,
        createBucketIfMissing: true,
        partSizeBytes: 5 * 1024 * 1024,
      });
      return {
        store,
        async stop() {
          store.close();
          await s3.stop();
        },
      };
    },
  },
  {
    name: 'fs',
    async open() {
      const parentDir = mkdtempSync(join(tmpdir(), 'fooocus-fsblob-'));
      const store = createFsBlobStore(join(parentDir, 'store'));
      return { store, parentDir, stop: async () => rmSync(parentDir, { recursive: true, force: true }) };
    },
  },
];

const sha256 = (b: Uint8Array) => createHash('sha256').update(b).digest('hex');

describe.each(backends)('BlobStore on $name', (backend) => {
  let env: Awaited<ReturnType<Backend['open']>>;
  let store: BlobStore;
  beforeAll(async () => {
    env = await backend.open();
    store = env.store;
  });
  afterAll(async () => {
    await env?.stop();
  });

  it('put/get/exists/delete round-trip bytes and content type; missing keys read as absent', async () => {
    const png = new Uint8Array(randomBytes(1000));
    await store.put('outputs/2024-07-05/2024-07-05_09-31-10_1752.png', png, 'image/png');
    await store.put('inputs/abc.bin', new Uint8Array([1, 2, 3]), 'application/x-custom');

    expect(await store.exists('outputs/2024-07-05/2024-07-05_09-31-10_1752.png')).toBe(true);
    const got = await store.get('outputs/2024-07-05/2024-07-05_09-31-10_1752.png');
    expect(got?.contentType).toBe('image/png');
    expect(Buffer.from(got!.bytes).equals(Buffer.from(png))).toBe(true);
    expect(await store.get('inputs/abc.bin')).toEqual({ bytes: new Uint8Array([1, 2, 3]), contentType: 'application/x-custom' });

    await store.put('inputs/abc.bin', new Uint8Array([9]), 'application/octet-stream'); // overwrite
    expect(await store.get('inputs/abc.bin')).toEqual({ bytes: new Uint8Array([9]), contentType: 'application/octet-stream' });

    expect(await store.get('outputs/missing.png')).toBeNull();
    expect(await store.exists('outputs/missing.png')).toBe(false);
    expect(await store.exists('outputs/2024-07-05')).toBe(false); // a "directory" is not a blob

    await store.delete(['outputs/2024-07-05/2024-07-05_09-31-10_1752.png', 'inputs/abc.bin', 'never/existed.png']);
    expect(await store.exists('outputs/2024-07-05/2024-07-05_09-31-10_1752.png')).toBe(false);
    expect(await store.get('inputs/abc.bin')).toBeNull();
    await store.delete([]);
  });

  it('a streamed upload larger than two multipart parts comes back byte-identical', async () => {
    const total = 11 * 1024 * 1024 + 12_345;
    const data = new Uint8Array(randomBytes(total));
    async function* chunks() {
      for (let offset = 0; offset < total; offset += 64 * 1024) yield data.subarray(offset, Math.min(total, offset + 64 * 1024));
    }
    await store.put('models/unet.onnx', chunks(), 'application/octet-stream');
    const got = await store.get('models/unet.onnx');
    expect(got?.bytes.byteLength).toBe(total);
    expect(sha256(got!.bytes)).toBe(sha256(data));
    await store.delete(['models/unet.onnx']);

    const small = new Uint8Array(randomBytes(100_000)); // below one part: a single PutObject
    async function* once() {
      yield small.subarray(0, 50_000);
      yield small.subarray(50_000);
    }
    await store.put('outputs/small.png', once(), 'image/png');
    expect(sha256((await store.get('outputs/small.png'))!.bytes)).toBe(sha256(small));
  });

  it('refuses absolute keys, traversal and malformed segments for every operation', async () => {
    const bad = ['../escape.png', '/etc/passwd', 'outputs/../../escape.png', 'a//b.png', './a.png', 'a/./b.png', 'a\\..\\b.png', '', 'a/b\u0000.png', 'C:/x.png'];
    for (const key of bad) {
      await expect(store.put(key, new Uint8Array([1]), 'image/png'), key).rejects.toBeInstanceOf(InvalidBlobKeyError);
      await expect(store.get(key), key).rejects.toBeInstanceOf(InvalidBlobKeyError);
      await expect(store.exists(key), key).rejects.toBeInstanceOf(InvalidBlobKeyError);
      await expect(store.delete(['ok.png', key]), key).rejects.toBeInstanceOf(InvalidBlobKeyError);
    }
    if (env.parentDir) {
      expect(existsSync(join(env.parentDir, 'escape.png'))).toBe(false);
      expect(readdirSync(env.parentDir)).toEqual(['store']);
    }
  });
});

describe('S3 BlobStore when the server goes away', () => {
  it('fails with TransientInfraError, not a raw SDK error', async () => {
    const s3 = await startS3();
    const store = await createS3BlobStore({
      endpoint: s3.endpoint,
      credentials: s3.credentials,
      bucket: s3.buckets[0],
      forcePathStyle: true,
    });
    await store.put('outputs/x.png', new Uint8Array([1]), 'image/png');
    await s3.stop();
    try {
      await expect(store.get('outputs/x.png')).rejects.toBeInstanceOf(TransientInfraError);
      await expect(store.put('outputs/y.png', new Uint8Array([1]), 'image/png')).rejects.toBeInstanceOf(TransientInfraError);
    } finally {
      store.close();
    }
  });
});
