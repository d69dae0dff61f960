// Blob key rules shared by every BlobStore adapter (ports.ts): keys are relative,
// '/'-separated paths. Refusing traversal here, before any adapter maps a key to a path or
// an object name, means the file-system store cannot be walked out of its directory and the
// S3 store behaves identically (a key accepted by one is accepted by the other).
export class InvalidBlobKeyError extends Error {
  constructor(
    readonly key: string,
    reason: string,
  ) {
    super(`invalid blob key ${JSON.stringify(key)}: ${reason}`);
    this.name = 'InvalidBlobKeyError';
  }
}

const MAX_KEY_BYTES = 1024; // S3's limit

export function assertBlobKey(key: string): string {
  if (typeof key !== 'string' || key.length === 0) throw new InvalidBlobKeyError(String(key), 'empty');
  if (Buffer.byteLength(key) > MAX_KEY_BYTES) throw new InvalidBlobKeyError(key, `longer than ${MAX_KEY_BYTES} bytes`);
  if (key.startsWith('/')) throw new InvalidBlobKeyError(key, 'absolute');
  if (key.includes('\\')) throw new InvalidBlobKeyError(key, 'backslash');
  // eslint-disable-next-line no-control-regex
  if (/[\u0000-\u001f\u007f]/.test(key)) throw new InvalidBlobKeyError(key, 'control character');
  if (/^[A-Za-z]:/.test(key)) throw new InvalidBlobKeyError(key, 'drive letter');
  for (const segment of key.split('/')) {
    if (segment === '') throw new InvalidBlobKeyError(key, 'empty path segment');
    if (segment === '.' || segment === '..') throw new InvalidBlobKeyError(key, `'${segment}' segment`);
  }
  return key;
}
