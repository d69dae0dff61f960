// BlobStore on a local directory, for the embedded mode. Keys map to paths under `dir`
// unchanged, so outputs land where FooocusAPI users expect them (`outputs/2024-07-05/….png`).
//
// - Traversal: keys are checked by assertBlobKey, and the resolved path must still be inside
//   `dir` (belt and braces).
// - Atomic writes: bytes go to a temp file in the target directory, then rename(), so a
//   reader (GET /outputs/…) never sees a half-written image; streams are piped, not buffered.
// - Content type: derived from the key's extension; only when the caller's type differs is
//   it kept in a `<file>.content-type` sidecar (keys with that suffix are refused).
import { randomBytes } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import { mkdir, readFile, rename, rm, stat, writeFile } from 'node:fs/promises';
import { dirname, extname, resolve, sep } from 'node:path';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import type { BlobStore } from '../../core/ports.ts';
import { assertBlobKey, InvalidBlobKeyError } from '../blobKey.ts';

const SIDECAR = '.content-type';

const TYPES: Record<string, string> = {
  '.png': 'image/png',
  '.jpg': 'image/jpeg',
  '.jpeg': 'image/jpeg',
  '.webp': 'image/webp',
  '.gif': 'image/gif',
  '.json': 'application/json',
  '.txt': 'text/plain',
  '.html': 'text/html',
};

export function contentTypeForKey(key: string): string {
  return TYPES[extname(key).toLowerCase()] ?? 'application/octet-stream';
}

export function createFsBlobStore(dir: string): BlobStore {
  const root = resolve(dir);

  function pathOf(key: string): string {
    assertBlobKey(key);
    if (key.endsWith(SIDECAR)) throw new InvalidBlobKeyError(key, `reserved suffix ${SIDECAR}`);
    const path = resolve(root, ...key.split('/'));
    if (!path.startsWith(root + sep)) throw new InvalidBlobKeyError(key, 'outside the store');
    return path;
  }

  return {
    async put(key, body, contentType) {
      const path = pathOf(key);
      await mkdir(dirname(path), { recursive: true });
      const tmp = `${path}.${randomBytes(6).toString('hex')}.tmp`;
      try {
        if (body instanceof Uint8Array) await writeFile(tmp, body);
        else await pipeline(Readable.from(body), createWriteStream(tmp));
        if (contentType !== contentTypeForKey(key)) await writeFile(path + SIDECAR, contentType);
        else await rm(path + SIDECAR, { force: true });
        await rename(tmp, path);
      } catch (err) {
        await rm(tmp, { force: true });
        throw err;
      }
    },

    async get(key) {
      const path = pathOf(key);
      let bytes: Buffer;
      try {
        bytes = await readFile(path);
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code === 'ENOENT' || (err as NodeJS.ErrnoException).code === 'EISDIR') return null;
        throw err;
      }
      const sidecar = await readFile(path + SIDECAR, 'utf8').catch(() => null);
      return { bytes: new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.byteLength), contentType: sidecar ?? contentTypeForKey(key) };
    },

    async delete(keys) {
      const paths = keys.map(pathOf); // validate all before deleting any
      await Promise.all(paths.flatMap((p) => [rm(p, { force: true }), rm(p + SIDECAR, { force: true })]));
    },

    async exists(key) {
      const info = await stat(pathOf(key)).catch(() => null);
      return info?.isFile() ?? false;
    },
  };
}
