// In-process S3-compatible server (s3rver) for integration tests.
//
// s3rver listens on port 0 (no race) and stores objects in a temp dir removed on stop().
// It is fast (ready in <10 ms) but not a faithful S3: multipart ETags are plain MD5 and
// aws-chunked streaming bodies are stored with their framing unless the client sets
// requestChecksumCalculation: 'WHEN_REQUIRED' (environment.md §4) — the S3 adapter does.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import S3rver from 's3rver';

export interface S3Handle {
  /** `http://127.0.0.1:<port>` — use with forcePathStyle: true. */
  readonly endpoint: string;
  readonly region: string;
  readonly credentials: { accessKeyId: string; secretAccessKey: string };
  /** Buckets created at start (see options.buckets). */
  readonly buckets: readonly string[];
  /** Closes the server and removes its directory. Idempotent. */
  stop(): Promise<void>;
}

export interface StartS3Options {
  /** Buckets to create before the server starts. Default `['fooocus-test']`. */
  buckets?: string[];
}

export async function startS3(options: StartS3Options = {}): Promise<S3Handle> {
  const buckets = options.buckets ?? ['fooocus-test'];
  const directory = mkdtempSync(join(tmpdir(), 'fooocus-s3rver-'));
  const server = new S3rver({
    address: '127.0.0.1',
    port: 0,
    silent: true,
    directory,
    configureBuckets: buckets.map((name) => ({ name })),
  });
  const { port } = await server.run();
  let stopped = false;
  return {
    endpoint: `http://127.0.0.1:${port}`,
    region: 'us-east-1',
    credentials: { accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER' },
    buckets,
    async stop() {
      if (stopped) return;
      stopped = true;
      await server.close();
      rmSync(directory, { recursive: true, force: true });
    },
  };
}
