/**
 * SHA-256 of a (model) file, remembered across runs.
 *
 * Hashing a 7 GB checkpoint takes seconds, so results are kept in a small JSON index
 * (`<cacheDir>/hashes.json`) keyed by absolute path and checked against (size, mtime): a file
 * changed in place gets a new hash, an unchanged one is read once. The engine keys its graph
 * cache by this hash and the model store writes it into image metadata (Fooocus' "Model hash");
 * both use this module with the same cache directory, so a checkpoint is hashed once for both.
 *
 * Lives in services/shared because the engine (graph cache) and infra (model store) both need
 * it and neither may import the other; it imports only node built-ins.
 *
 * Concurrency: the index is rewritten whole through a temporary file and a rename, so readers
 * never see a torn file; two processes updating at once can drop each other's new entry, which
 * only costs a re-hash later.
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

/** The file's sha256 (lower-case hex), from the index when size and mtime still match. */
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
  // Re-read before writing: another caller may have added entries while this file was hashed.
  try {
    index = JSON.parse(readFileSync(indexPath, 'utf8')) as Record<string, IndexEntry>;
  } catch {
    index = {};
  }
  index[abs] = { size: st.size, mtimeMs: st.mtimeMs, sha256 };
  mkdirSync(dirname(indexPath), { recursive: true });
  const tmp = `${indexPath}.${process.pid}.${Math.random().toString(36).slice(2)}.tmp`;
  writeFileSync(tmp, JSON.stringify(index));
  renameSync(tmp, indexPath);
  return sha256;
}
