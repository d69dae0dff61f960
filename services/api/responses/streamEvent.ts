/**
 * FooocusAPI stream events (api-contract §3.2) from domain task events.
 *
 *   {"progress": <int>, "preview": "data:image/png;base64,…" | null, "message": "…", "images": []}
 *
 * - progress: the worker's cumulative percent, rounded; preview only when the event carries
 *   one. Previews are normalised to PNG so the `data:image/png;base64,` prefix FooocusAPI
 *   clients strip stays true (the engine makes JPEG previews; sharp re-encodes the small image).
 * - started → `{"progress": 1, …, "message": "Initializing ..."}` (Fooocus' first message).
 * - finished → `{"progress": 100, "preview": null, "message": "Finished", "images": [urls]}`,
 *   the exact FooocusAPI final event, also after a stop (images finished before it).
 * - failed / canceled → the same final "Finished" event (so clients that wait for it end),
 *   with `images: []` plus two added keys, `task_status` ("failed"/"canceled") and, for
 *   failures, `error` {code, message} — FooocusAPI silently reports failures as finished.
 */
import sharp from 'sharp';
import { z } from 'zod';
import type { TaskEvent } from '../../core/task/taskEvents.ts';
import type { Task } from '../../core/task/taskRecord.ts';
import { resultUrls } from './resultUrls.ts';

export const streamEventSchema = z
  .object({
    progress: z.int().describe('0–100.'),
    preview: z.string().nullable().describe('data:image/png;base64,… step preview, or null.'),
    message: z.string().describe('Fooocus progress message; "Finished" on the last event.'),
    images: z.array(z.string()).describe('Result URLs; only on the last event.'),
    task_status: z.enum(['failed', 'canceled']).optional().describe('Only on a last event of a task that did not finish (addition).'),
    error: z.object({ code: z.string(), message: z.string() }).optional().describe('Only when the task failed (addition).'),
  })
  .describe('One server-sent event of the generate stream (stream_output: true).');

export type StreamEvent = z.infer<typeof streamEventSchema>;

export interface StreamEventOptions {
  publicBaseUrl: string;
  /** FooocusAPI exactness: no task_status/error keys on a failed task's last event. Default false. */
  fooocusFailures?: boolean;
}

export async function streamEventFor(event: TaskEvent, options: StreamEventOptions): Promise<StreamEvent | null> {
  switch (event.type) {
    case 'started':
      return { progress: 1, preview: null, message: 'Initializing ...', images: [] };
    case 'progress':
      return {
        progress: Math.max(0, Math.min(100, Math.round(event.percent))),
        preview: event.preview ? await pngDataUrl(event.preview) : null,
        message: event.message,
        images: [],
      };
    case 'finished':
      return finalEvent(resultUrls(options.publicBaseUrl, event.results));
    case 'failed':
      return options.fooocusFailures ? finalEvent([]) : { ...finalEvent([]), task_status: 'failed', error: { ...event.error } };
    case 'canceled':
      return options.fooocusFailures ? finalEvent([]) : { ...finalEvent([]), task_status: 'canceled' };
    default:
      return assertNever(event);
  }
}

/** The last event rebuilt from a terminal task row (its event aged out of the bus). */
export function finalEventFromTask(task: Task, options: StreamEventOptions): StreamEvent {
  switch (task.status) {
    case 'finished':
    case 'stopped':
      return finalEvent(resultUrls(options.publicBaseUrl, task.results));
    case 'failed':
      return options.fooocusFailures
        ? finalEvent([])
        : { ...finalEvent([]), task_status: 'failed', error: task.error ? { ...task.error } : { code: 'internal', message: 'failed' } };
    case 'canceled':
      return options.fooocusFailures ? finalEvent([]) : { ...finalEvent([]), task_status: 'canceled' };
    default:
      throw new Error(`finalEventFromTask: task ${task.id} is ${task.status}, not terminal`);
  }
}

function finalEvent(images: string[]): StreamEvent {
  return { progress: 100, preview: null, message: 'Finished', images };
}

const PNG_B64 = 'iVBORw0KGgo';

/** `data:image/png;base64,…` for a base64 image of any format sharp reads. */
export async function pngDataUrl(base64: string): Promise<string | null> {
  if (base64.startsWith(PNG_B64)) return `data:image/png;base64,${base64}`;
  try {
    const png = await sharp(Buffer.from(base64, 'base64')).png().toBuffer();
    return `data:image/png;base64,${png.toString('base64')}`;
  } catch {
    return null;
  }
}

function assertNever(value: never): never {
  throw new Error(`unexpected event ${JSON.stringify(value)}`);
}
