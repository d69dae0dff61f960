import { describe, expect, it } from 'vitest';
import type { Task } from '../../core/task/taskRecord.ts';
import { asyncJobAck, asyncJobResponse, filesUrl, generatedImageResults, jobHistoryInfo, jobNotFound, jobStageOf } from './legacyResponses.ts';
import { legacyReqParams } from './legacyTask.ts';
import { legacyWebhookBody } from './legacyWebhookBody.ts';

const BASE = 'http://h:1';
const task = (over: Partial<Task> = {}): Task => ({
  id: '0123456789abcdef0123456789abcdef',
  seq: 1,
  status: 'finished',
  attempt: 1,
  createdAt: new Date(1000),
  startedAt: new Date(2000),
  finishedAt: new Date(3000),
  reqParams: legacyReqParams({ jobType: 'Image Prompt', requireBase64: false }),
  results: [{ key: 'outputs/2024-07-05/a b.png', seed: '42', finishReason: 'SUCCESS' }],
  progress: { percent: 40, message: 'Sampling step 2/5' },
  preview: 'AAAA',
  error: null,
  webhookUrl: null,
  workerId: null,
  heartbeatAt: null,
  owner: null,
  idempotencyKey: null,
  ...over,
});

describe('Fooocus-API (old) responses', () => {
  it('URLs point at /files with encoded segments', () => {
    expect(filesUrl(BASE, 'outputs/2024-07-05/a b.png')).toBe('http://h:1/files/2024-07-05/a%20b.png');
  });

  it('stages follow the task status (RUNNING while running; stop keeps images as SUCCESS)', () => {
    expect(jobStageOf(task({ status: 'queued' }))).toBe('WAITING');
    expect(jobStageOf(task({ status: 'running' }))).toBe('RUNNING');
    expect(jobStageOf(task())).toBe('SUCCESS');
    expect(jobStageOf(task({ status: 'stopped' }))).toBe('SUCCESS');
    expect(jobStageOf(task({ status: 'stopped', results: [] }))).toBe('ERROR');
    expect(jobStageOf(task({ status: 'failed', results: [] }))).toBe('ERROR');
    expect(jobStageOf(task({ status: 'canceled', results: [] }))).toBe('ERROR');
  });

  it('sync list: seed as a string, no base64 unless asked; a failed task gives one ERROR entry', async () => {
    expect(await generatedImageResults(task(), { publicBaseUrl: BASE })).toEqual([
      { base64: null, url: 'http://h:1/files/2024-07-05/a%20b.png', seed: '42', finish_reason: 'SUCCESS' },
    ]);
    expect(await generatedImageResults(task({ status: 'failed', results: [] }), { publicBaseUrl: BASE })).toEqual([
      { base64: null, url: null, seed: '', finish_reason: 'ERROR' },
    ]);
    expect((await generatedImageResults(task({ status: 'canceled', results: [] }), { publicBaseUrl: BASE }))[0].finish_reason).toBe('USER_CANCEL');
  });

  it('require_base64 reads the stored bytes as a data URL', async () => {
    const t = task({ reqParams: legacyReqParams({ jobType: 'Text to Image', requireBase64: true }) });
    const blobs = { get: async () => ({ bytes: new Uint8Array([1, 2, 3]), contentType: 'image/png' }) } as never;
    expect((await generatedImageResults(t, { publicBaseUrl: BASE, blobs }))[0].base64).toBe('data:image/png;base64,AQID');
  });

  it('async ack and query-job views', async () => {
    expect(asyncJobAck(task({ status: 'queued' }))).toEqual({
      job_id: '01234567-89ab-cdef-0123-456789abcdef',
      job_type: 'Image Prompt',
      job_stage: 'WAITING',
      job_progress: 0,
      job_status: null,
      job_step_preview: null,
      job_result: null,
    });
    const running = await asyncJobResponse(task({ status: 'running', results: [] }), { publicBaseUrl: BASE, stepPreview: true });
    expect(running).toMatchObject({ job_stage: 'RUNNING', job_progress: 40, job_status: 'Sampling step 2/5', job_step_preview: 'AAAA', job_result: null });
    const done = await asyncJobResponse(task(), { publicBaseUrl: BASE, stepPreview: false });
    expect(done).toMatchObject({ job_stage: 'SUCCESS', job_progress: 100, job_status: 'Finished', job_step_preview: null });
    const failed = await asyncJobResponse(task({ status: 'failed', results: [], error: { code: 'invalid_input', message: 'no vary yet' } }), { publicBaseUrl: BASE, stepPreview: false });
    expect(failed).toMatchObject({ job_stage: 'ERROR', job_status: 'no vary yet', job_result: null });
    expect(jobNotFound()).toEqual({ job_id: '', job_type: 'Not Found', job_stage: 'ERROR', job_progress: 0, job_status: 'Job not found', job_step_preview: null, job_result: null });
  });

  it('history info uses 0 for times not reached', () => {
    expect(jobHistoryInfo(task({ status: 'queued', startedAt: null, finishedAt: null }))).toEqual({
      job_id: '01234567-89ab-cdef-0123-456789abcdef',
      in_queue_mills: 1000,
      start_mills: 0,
      finish_mills: 0,
      is_finished: false,
    });
    expect(jobHistoryInfo(task())).toMatchObject({ start_mills: 2000, finish_mills: 3000, is_finished: true });
  });

  it('old webhook body: job_id dashed, url and string seed per image, no base64', () => {
    expect(legacyWebhookBody(task(), { publicBaseUrl: BASE })).toEqual({
      job_id: '01234567-89ab-cdef-0123-456789abcdef',
      job_result: [{ url: 'http://h:1/files/2024-07-05/a%20b.png', seed: '42' }],
    });
    expect(legacyWebhookBody(task({ status: 'failed', results: [] }), { publicBaseUrl: BASE }).job_result).toEqual([]);
  });
});
