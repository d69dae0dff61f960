/**
 * Opening a model file and reading byte ranges of it, shared by the
 * safetensors, zip and torch readers. Every failure is a CheckpointError
 * naming the file: a missing file is `not_found`, a read past the end (a
 * download cut short) is `truncated`, never a short buffer handed on to a
 * parser.
 */
import { openSync, readSync } from 'node:fs';
import { CheckpointError } from './engineErrors.ts';

/** Opens `path` for reading; the caller closes the descriptor. */
export function openCheckpointFile(path: string): number {
  try {
    return openSync(path, 'r');
  } catch (e) {
    throw new CheckpointError(path, 'not_found', (e as Error).message, { cause: e });
  }
}

/** Fills `buf` from absolute offset `position`, or fails as `truncated`. */
export function readFully(fd: number, buf: Buffer, position: number, path: string): void {
  let done = 0;
  while (done < buf.length) {
    // Chunked so a single read never exceeds the 2 GB syscall limit.
    const want = Math.min(buf.length - done, 1 << 30);
    const n = readSync(fd, buf, done, want, position + done);
    if (n === 0) throw new CheckpointError(path, 'truncated', `unexpected end of file at byte ${position + done}`);
    done += n;
  }
}
