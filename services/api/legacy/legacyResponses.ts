/**
 * Fooocus-API (old) response shapes from the domain Task (api-contract §8.3–§8.5), with zod
 * schemas for /openapi.json and the tests.
 *
 * Stage mapping (§8.4), one place:
 *
 * | task status | job_stage | job_result                                                       |
 * |-------------|-----------|------------------------------------------------------------------|
 * | queued      | WAITING   | null                                                             |
 * | running     | RUNNING   | null  (v0.4.x behaviour: we know when a task starts; HEAD v0.5 said WAITING) |
 * | finished    | SUCCESS   | one GeneratedImageResult per image, finish_reason SUCCESS        |
 * | stopped     | SUCCESS with the images kept (HEAD v0.5's stop); ERROR when none were finished |
 * | failed      | ERROR     | null; job_status carries the failure message (addition)          |
 * | canceled    | ERROR     | null; job_status "User canceled"                                 |
 *
 * The sync list answer (`List[GeneratedImageResult]`) of a task without images is one entry
 * `{base64:null,url:null,seed:"",finish_reason:"ERROR"|"USER_CANCEL"}`, as the old server
 * produced for failed / interrupted jobs.
 *
 * URLs are `{PUBLIC_BASE_URL}/files/{date}/{file}` (the old project's static path, §6.5), served
 * by the same handler as `/outputs/…`. `base64` is filled only with `require_base64`, in HEAD
 * v0.5's form `data:image/<ext>;base64,…` of the stored bytes.
 */
import { z } from 'zod';
import type { BlobStore } from '../../core/ports.ts';
import type { Task, TaskOutput } from '../../core/task/taskRecord.ts';
import { TaskStatus } from '../../core/task/taskStatus.ts';
import { toJobId } from './jobId.ts';
import { JOB_TYPES, jobTypeOf, legacyMarkerOf } from './legacyTask.ts';

export const FINISH_REASONS = ['SUCCESS', 'QUEUE_IS_FULL', 'USER_CANCEL', 'ERROR'] as const;
export const JOB_STAGES = ['WAITING', 'RUNNING', 'SUCCESS', 'ERROR'] as const;
export type JobStage = (typeof JOB_STAGES)[number];

export const generatedImageResultSchema = z
  .object({
    base64: z.string().nullable().describe('Only with require_base64: data:image/<ext>;base64,… of the file.'),
    url: z.string().nullable().describe('{base}/files/{date}/{file}.'),
    seed: z.string().describe('The image seed as a decimal STRING.'),
    finish_reason: z.enum(FINISH_REASONS),
  })
  .describe('Fooocus-API GeneratedImageResult.');

export const asyncJobResponseSchema = z
  .object({
    job_id: z.string().describe('The task id in uuid form 8-4-4-4-12.'),
    job_type: z.enum(JOB_TYPES),
    job_stage: z.enum(JOB_STAGES),
    job_progress: z.int().min(0).max(100),
    job_status: z.string().nullable(),
    job_step_preview: z.string().nullable().describe('Bare base64 PNG of the latest step preview (require_step_preview).'),
    job_result: z.array(generatedImageResultSchema).nullable(),
  })
  .describe('Fooocus-API AsyncJobResponse.');

export const jobQueueInfoSchema = z.object({
  running_size: z.int().describe('Queued + running tasks.'),
  finished_size: z.int().describe('Finished tasks (any outcome).'),
  last_job_id: z.string().nullable().describe('The newest task, uuid form.'),
});

export const jobHistoryInfoSchema = z.object({
  job_id: z.string(),
  in_queue_mills: z.int(),
  start_mills: z.int().describe('0 until started.'),
  finish_mills: z.int().describe('0 until finished.'),
  is_finished: z.boolean(),
});

export const jobHistoryResponseSchema = z.object({
  queue: z.array(jobHistoryInfoSchema),
  history: z.array(jobHistoryInfoSchema),
});

export type GeneratedImageResult = z.infer<typeof generatedImageResultSchema>;
export type AsyncJobResponse = z.infer<typeof asyncJobResponseSchema>;
export type JobHistoryInfo = z.infer<typeof jobHistoryInfoSchema>;

export interface LegacyResponseOptions {
  publicBaseUrl: string;
  /** Needed only for require_base64. */
  blobs?: Pick<BlobStore, 'get'>;
}

/** Output key `outputs/<date>/<file>` → `{base}/files/<date>/<file>`. */
export function filesUrl(publicBaseUrl: string, key: string): string {
  const rest = key.startsWith('outputs/') ? key.slice('outputs/'.length) : key;
  return `${publicBaseUrl}/files/${rest.split('/').map(encodeURIComponent).join('/')}`;
}

export function jobStageOf(task: Pick<Task, 'status' | 'results'>): JobStage {
  switch (task.status) {
    case TaskStatus.queued:
      return 'WAITING';
    case TaskStatus.running:
      return 'RUNNING';
    case TaskStatus.finished:
      return 'SUCCESS';
    case TaskStatus.stopped:
      return task.results.length > 0 ? 'SUCCESS' : 'ERROR';
    case TaskStatus.failed:
    case TaskStatus.canceled:
      return 'ERROR';
    default:
      return assertNever(task.status);
  }
}

/** `List[GeneratedImageResult]` of a terminal task (sync answer). */
export async function generatedImageResults(task: Task, options: LegacyResponseOptions): Promise<GeneratedImageResult[]> {
  if (task.results.length === 0) {
    const reason = task.status === TaskStatus.failed ? 'ERROR' : task.status === TaskStatus.finished ? 'ERROR' : 'USER_CANCEL';
    return [{ base64: null, url: null, seed: '', finish_reason: reason }];
  }
  const withBase64 = legacyMarkerOf(task)?.requireBase64 === true;
  return await Promise.all(task.results.map((r) => imageResult(r, withBase64, options)));
}

async function imageResult(output: TaskOutput, withBase64: boolean, options: LegacyResponseOptions): Promise<GeneratedImageResult> {
  let base64: string | null = null;
  if (withBase64 && options.blobs) {
    const blob = await options.blobs.get(output.key);
    if (blob) base64 = `data:${blob.contentType || output.contentType || 'image/png'};base64,${Buffer.from(blob.bytes).toString('base64')}`;
  }
  return { base64, url: filesUrl(options.publicBaseUrl, output.key), seed: output.seed === '' ? '-1' : output.seed, finish_reason: output.finishReason };
}

/** The async acknowledgement: stage WAITING, nothing else known yet. */
export function asyncJobAck(task: Task): AsyncJobResponse {
  return {
    job_id: toJobId(task.id),
    job_type: jobTypeOf(task),
    job_stage: 'WAITING',
    job_progress: 0,
    job_status: null,
    job_step_preview: null,
    job_result: null,
  };
}

/** `GET /v1/generation/query-job` for a known task. */
export async function asyncJobResponse(task: Task, options: LegacyResponseOptions & { stepPreview: boolean }): Promise<AsyncJobResponse> {
  const stage = jobStageOf(task);
  const progress = stage === 'SUCCESS' ? 100 : Math.max(0, Math.min(100, Math.round(task.progress?.percent ?? 0)));
  return {
    job_id: toJobId(task.id),
    job_type: jobTypeOf(task),
    job_stage: stage,
    job_progress: progress,
    job_status: jobStatusText(task, stage),
    job_step_preview: options.stepPreview && task.status === TaskStatus.running ? (task.preview ?? null) : null,
    job_result: stage === 'SUCCESS' ? await generatedImageResults(task, options) : null,
  };
}

function jobStatusText(task: Task, stage: JobStage): string | null {
  if (stage === 'SUCCESS') return 'Finished';
  if (task.status === TaskStatus.failed) return task.error?.message ?? 'Error';
  if (task.status === TaskStatus.canceled || task.status === TaskStatus.stopped) return 'User canceled';
  return task.progress?.message ?? null;
}

/** The old 404 body for an unknown job_id (exact, §8.4). */
export function jobNotFound(): AsyncJobResponse {
  return {
    job_id: '',
    job_type: 'Not Found',
    job_stage: 'ERROR',
    job_progress: 0,
    job_status: 'Job not found',
    job_step_preview: null,
    job_result: null,
  };
}

export function jobHistoryInfo(task: Task): JobHistoryInfo {
  const finished = task.status !== TaskStatus.queued && task.status !== TaskStatus.running;
  return {
    job_id: toJobId(task.id),
    in_queue_mills: task.createdAt.getTime(),
    start_mills: task.startedAt && task.status !== TaskStatus.queued ? task.startedAt.getTime() : 0,
    finish_mills: finished && task.finishedAt ? task.finishedAt.getTime() : 0,
    is_finished: finished,
  };
}

function assertNever(value: never): never {
  throw new Error(`unexpected status ${String(value)}`);
}
