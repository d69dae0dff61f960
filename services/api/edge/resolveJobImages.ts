/**
 * The API's fetch/store pass over a normalised GenerationJob (ARCHITECTURE.md "A task's life"
 * step 1, api-contract §2.2 step 13): every url/base64 ImageSource (uov input, inpaint image
 * and mask, the 4 image-prompt slots, the enhance input — `jobImageSlots` in core lists them)
 * is fetched or decoded, validated, normalised and stored under `inputs/` by content hash,
 * then replaced by a `stored` source; `reqParams` gets the input's URL (or "" when absent)
 * in the same fields. So neither the task row nor the dispatch message ever holds base64 or
 * a URL the worker would have to fetch.
 *
 * Errors: every image is tried (in parallel, a few at a time); all refusals are merged into
 * one InputImageError whose FastAPI `detail` lists each field (`loc` like
 * `["body","controlnet_image",1,"cn_img"]`), as pydantic reports every invalid field at
 * once. Infrastructure failures (blob store down) are rethrown as they are (→ 503).
 * The same source sent in two fields is fetched/decoded once.
 */
import { ValidationError } from '../../core/errors.ts';
import { jobImageSlots, type GenerationJob, type ImageSource } from '../../core/request/generationJob.ts';
import type { BlobStore } from '../../core/ports.ts';
import { decodeImageInput } from './decodeImageInput.ts';
import { fieldName, InputImageError, type FieldLoc, type InputImageProblem } from './inputImageError.ts';
import { storeInputImage, type StoredInputImage } from './storeInputImage.ts';
import type { UrlFetcher } from './urlFetch/index.ts';

export interface ResolveJobImagesDeps {
  /** SSRF-safe fetcher for URL inputs. */
  fetcher: UrlFetcher;
  blobs: BlobStore;
  /** MAX_IMAGE_BYTES. */
  maxBytes: number;
  /** MAX_IMAGE_PIXELS. */
  maxPixels: number;
  /** Public URL of a stored input, e.g. key ⇒ `${PUBLIC_BASE_URL}/${key}` (FooocusAPI `/inputs/<hash>.png`). */
  inputUrl: (key: string) => string;
  /** Cancels URL fetches (client disconnected). */
  signal?: AbortSignal;
  /** Images processed at once. Default 4. */
  concurrency?: number;
}

/**
 * Maps a slot name from core's `jobImageSlots` (`uov_input_image`, `controlnet_image.1.cn_img`)
 * to the request's field location. Default: split on dots, numeric parts as indexes — the
 * FooocusAPI field names. An old Fooocus-API route would map to `image_prompts[1].cn_img`.
 */
export type FieldPath = (slotField: string) => FieldLoc;

export const fooocusFieldPath: FieldPath = (slotField) => slotField.split('.').map((p) => (/^\d+$/.test(p) ? Number(p) : p));

/** A copy of `job` with every url/base64 image stored; throws InputImageError listing all bad fields. */
export async function resolveJobImages(job: GenerationJob, deps: ResolveJobImagesDeps, fieldPath: FieldPath = fooocusFieldPath): Promise<GenerationJob> {
  const out = structuredClone(job);
  const slots = jobImageSlots(out);
  const bySource = new Map<string, Promise<StoredInputImage>>();
  const pending: { slot: (typeof slots)[number]; loc: FieldLoc; stored: Promise<StoredInputImage> }[] = [];
  const limit = limiter(deps.concurrency ?? 4);

  for (const slot of slots) {
    const source = slot.get();
    if (source === null || source.kind === 'stored') continue;
    const loc = fieldPath(slot.field);
    const identity = source.kind === 'url' ? `url:${source.url}` : `b64:${source.data}`;
    let stored = bySource.get(identity);
    if (!stored) {
      stored = limit(async () => {
        const bytes = await decodeImageInput(source, { fetcher: deps.fetcher, maxBytes: deps.maxBytes, field: loc, signal: deps.signal });
        return await storeInputImage(bytes, { blobs: deps.blobs, maxBytes: deps.maxBytes, maxPixels: deps.maxPixels, field: loc });
      });
      bySource.set(identity, stored);
    }
    pending.push({ slot, loc, stored });
  }

  const settled = await Promise.allSettled(pending.map((p) => p.stored));
  const issues: ValidationError['issues'] = [];
  let problem: InputImageProblem | null = null;
  let firstCause: unknown;
  for (const [i, result] of settled.entries()) {
    const { slot, loc } = pending[i];
    if (result.status === 'fulfilled') {
      const s = result.value;
      slot.set({ kind: 'stored', key: s.key, sha256: s.sha256, url: deps.inputUrl(s.key) });
      continue;
    }
    const err = result.reason;
    if (!(err instanceof InputImageError)) throw err; // infrastructure: not the client's fault
    // A deduplicated source failed once, but it is wrong in every field that used it.
    for (const issue of err.issues) issues.push({ ...issue, loc: ['body', ...loc], msg: issue.msg.replace(/^[^:]*:/, `${fieldName(loc)}:`) });
    problem ??= err.problem;
    if (err.problem === 'image-too-large') problem = 'image-too-large';
    firstCause ??= err;
  }
  if (problem) throw new InputImageError(problem, dedupeIssues(issues), { cause: firstCause });

  writeReqParamImages(out, slots);
  return out;
}

/** reqParams image fields ← the stored input's URL, or "" when the slot has no image. */
function writeReqParamImages(job: GenerationJob, slots: ReturnType<typeof jobImageSlots>): void {
  for (const slot of slots) {
    const source: ImageSource | null = slot.get();
    const value = source === null ? '' : source.kind === 'stored' ? (source.url ?? source.key) : null;
    if (value === null) continue; // unreachable after a successful pass
    setPath(job.reqParams, fooocusFieldPath(slot.field), value);
  }
}

function setPath(root: Record<string, unknown>, path: FieldLoc, value: unknown): void {
  let node: unknown = root;
  for (const key of path.slice(0, -1)) {
    if (node === null || typeof node !== 'object') return;
    node = (node as Record<string | number, unknown>)[key];
  }
  if (node !== null && typeof node === 'object') (node as Record<string | number, unknown>)[path[path.length - 1]] = value;
}

function dedupeIssues(issues: ValidationError['issues']): ValidationError['issues'] {
  const seen = new Set<string>();
  return issues.filter((i) => {
    const k = JSON.stringify([i.loc, i.type]);
    if (seen.has(k)) return false;
    seen.add(k);
    return true;
  });
}

function limiter(max: number): <T>(fn: () => Promise<T>) => Promise<T> {
  let active = 0;
  const queue: (() => void)[] = [];
  return async (fn) => {
    if (active >= max) await new Promise<void>((r) => queue.push(r));
    active++;
    try {
      return await fn();
    } finally {
      active--;
      queue.shift()?.();
    }
  };
}
