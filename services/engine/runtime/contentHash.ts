/**
 * Content hash of a model file, the key of its graph cache.
 * Hashing a 7 GB checkpoint takes seconds, so results are remembered in a
 * small JSON index keyed by (path, size, mtime): a file that changes in place
 * gets a new hash, an unchanged one is hashed once.
 */
import { createHash } from 'node:crypto';
import { createReadStream, mkdirSync, readFileSync, renameSync, statSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';

interface IndexEntry { size: number; mtimeMs: number; sha256: string }

export async function fileSha256(path: string): Promise<string> {
  const h = createHash('sha256');
  for await (const chunk of createReadStream(path, { highWaterMark: 8 << 20 })) h.update(chunk as Buffer);
  return h.digest('hex');
}

export async function cachedFileSha256(path: string, cacheDir: string): Promise<string> {
  const abs = resolve(path);
  const st = statSync(abs);
  const indexPath = join(cacheDir, 'hashes.json');
  let index: Record<string, IndexEntry> = {};
  try {
    index = JSON.parse(readFileSync(indexPath, 'utf8')) as Record<string, IndexEntry>;
  } catch {
    index = {};
  }
  const hit = index[abs];
  if (hit && hit.size === st.size && hit.mtimeMs === st.mtimeMs) return hit.sha256;
  const sha256 = await fileSha256(abs);
  index[abs] = { size: st.size, mtimeMs: st.mtimeMs, sha256 };
  mkdirSync(dirname(indexPath), { recursive: true });
  const tmp = `${indexPath}.${process.pid}.tmp`;
  writeFileSync(tmp, JSON.stringify(index));
  renameSync(tmp, indexPath);
  return sha256;
}
