/**
 * Result and input URLs (api-contract §6.1): `<PUBLIC_BASE_URL>/<blob key>`, where output keys
 * start with `outputs/` (`outputs/2024-07-04/2024-07-04_17-36-09_5201.png`) and input keys
 * with `inputs/`. Keys are URL-encoded per segment so a `save_name` with spaces stays valid.
 */
import type { TaskOutput } from '../../core/task/taskRecord.ts';

export function blobUrl(publicBaseUrl: string, key: string): string {
  return `${publicBaseUrl}/${key.split('/').map(encodeURIComponent).join('/')}`;
}

export function resultUrls(publicBaseUrl: string, results: readonly TaskOutput[]): string[] {
  return results.map((r) => blobUrl(publicBaseUrl, r.key));
}
