/**
 * Content hash of a model file, the key of its graph cache. The implementation (sha256 with a
 * (path, size, mtime) index) lives in services/shared/fileSha256.ts, shared with the model
 * store so a checkpoint is hashed once for the graph cache and the image metadata.
 */
export { cachedFileSha256, fileSha256 } from '../../shared/fileSha256.ts';
