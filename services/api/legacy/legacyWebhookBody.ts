/**
 * The old project's webhook body (api-contract §5.2), for tasks created through its routes:
 * a real JSON object `{"job_id": "<uuid with dashes>", "job_result": [{"url": …, "seed": "<str>"}]}`,
 * never base64 (even with require_base64). A job without images sends `"job_result": []`.
 * URLs point at `/files/{date}/{file}` like the old responses.
 */
import type { Task } from '../../core/task/taskRecord.ts';
import { toJobId } from './jobId.ts';
import { filesUrl } from './legacyResponses.ts';

export function legacyWebhookBody(task: Task, options: { publicBaseUrl: string }): { job_id: string; job_result: { url: string | null; seed: string }[] } {
  return {
    job_id: toJobId(task.id),
    job_result: task.results.map((r) => ({ url: filesUrl(options.publicBaseUrl, r.key), seed: r.seed === '' ? '-1' : r.seed })),
  };
}

export function renderLegacyWebhookBody(task: Task, options: { publicBaseUrl: string }): string {
  return JSON.stringify(legacyWebhookBody(task, options));
}
