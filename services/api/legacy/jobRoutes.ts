/**
 * Fooocus-API (old) job routes (api-contract §8.1, §8.4, §8.5, §5.3) over the task store:
 *
 *   GET  /v1/generation/query-job?job_id=&require_step_preview=   AsyncJobResponse; unknown ⇒ 404 with the old body
 *   GET  /v1/generation/job-queue                                 JobQueueInfo
 *   GET  /v1/generation/job-history?job_id=&page=&page_size=&delete=
 *        {queue, history} of JobHistoryInfo (queue = queued + running, oldest first; history =
 *        finished tasks, newest first, paged like the old persistent mode); `delete=true&job_id=`
 *        deletes the task and its output files ⇒ {"message":"Deleted"} / {"message":"Not found"}
 *   POST /v1/generation/stop                                      {"msg":"success"} always; stops the running task(s)
 *   GET  /ping                                                    "pong"
 *   GET  /files/*path                                             the /outputs handler (no auth)
 *
 * job_id is accepted dashed or as 32 hex. Every task is visible (also those created through
 * /v1/engine/generate/), as /tasks shows everyone's.
 */
import type { Request, Response } from 'express';
import { ValidationError, type ValidationIssue } from '../../core/errors.ts';
import type { Task } from '../../core/task/taskRecord.ts';
import { TaskStatus, TERMINAL_STATUSES } from '../../core/task/taskStatus.ts';
import type { ApiContext } from '../http/apiContext.ts';
import { queryBool, queryInt } from '../http/queryParams.ts';
import type { RouteDef } from '../http/routeTable.ts';
import { singleQuery } from '../routes/control.ts';
import { outputFileHandler } from '../routes/files.ts';
import { deleteTasks } from '../routes/tasks.ts';
import { taskIdOfJobId, toJobId } from './jobId.ts';
import { asyncJobResponse, jobHistoryInfo, jobNotFound } from './legacyResponses.ts';

const ACTIVE = [TaskStatus.queued, TaskStatus.running] as const;

export function legacyJobRoutes(ctx: ApiContext): RouteDef[] {
  async function findJob(raw: string | undefined): Promise<Task | null> {
    const id = raw === undefined ? null : taskIdOfJobId(raw);
    return id ? await ctx.store.get(id) : null;
  }

  async function queryJob(req: Request, res: Response): Promise<void> {
    const issues: ValidationIssue[] = [];
    const jobId = singleQuery(req, 'job_id');
    if (jobId === undefined) issues.push({ type: 'missing', loc: ['query', 'job_id'], msg: 'Field required', input: null });
    const stepPreview = queryBool(req, 'require_step_preview', false, issues);
    if (issues.length > 0) throw new ValidationError(issues);
    const task = await findJob(jobId);
    if (!task) {
      res.status(404).json(jobNotFound());
      return;
    }
    res.json(await asyncJobResponse(task, { publicBaseUrl: ctx.publicBaseUrl, blobs: ctx.blobs, stepPreview }));
  }

  async function jobQueue(_req: Request, res: Response): Promise<void> {
    const [running, finished, newest] = await Promise.all([
      ctx.store.count({ statuses: ACTIVE }),
      ctx.store.count({ statuses: TERMINAL_STATUSES }),
      ctx.store.list({ order: 'newest', pageSize: 1 }),
    ]);
    res.json({ running_size: running, finished_size: finished, last_job_id: newest[0] ? toJobId(newest[0].id) : null });
  }

  async function jobHistory(req: Request, res: Response): Promise<void> {
    const issues: ValidationIssue[] = [];
    const jobId = singleQuery(req, 'job_id');
    const page = queryInt(req, 'page', 0, issues);
    const pageSize = queryInt(req, 'page_size', 20, issues);
    const del = queryBool(req, 'delete', false, issues);
    if (issues.length > 0) throw new ValidationError(issues);

    if (del) {
      const task = await findJob(jobId);
      if (!task) {
        res.json({ message: 'Not found' });
        return;
      }
      await deleteTasks(ctx, [task]);
      res.json({ message: 'Deleted' });
      return;
    }
    if (jobId !== undefined && jobId !== '') {
      const task = await findJob(jobId);
      const body = { queue: [] as unknown[], history: [] as unknown[] };
      if (task) (ACTIVE as readonly string[]).includes(task.status) ? body.queue.push(jobHistoryInfo(task)) : body.history.push(jobHistoryInfo(task));
      res.json(body);
      return;
    }
    const [active, finished] = await Promise.all([
      ctx.store.list({ statuses: ACTIVE, order: 'oldest' }),
      page >= 0 && pageSize > 0 ? ctx.store.list({ statuses: TERMINAL_STATUSES, order: 'newest', page, pageSize }) : Promise.resolve([]),
    ]);
    res.json({ queue: active.map(jobHistoryInfo), history: finished.map(jobHistoryInfo) });
  }

  async function stop(_req: Request, res: Response): Promise<void> {
    // The old server interrupted "whatever runs" without looking; we send the stop only when
    // something runs, so it cannot hit the next task (the old global-flag bug, §5.3).
    const running = await ctx.store.list({ statuses: [TaskStatus.running], pageSize: 1 });
    if (running.length > 0) await ctx.events.control(null, 'stop');
    res.json({ msg: 'success' });
  }

  return [
    { method: 'get', path: '/v1/generation/query-job', style: 'fooocus-v0', auth: true, handlers: [queryJob] },
    { method: 'get', path: '/v1/generation/job-queue', style: 'fooocus-v0', auth: true, handlers: [jobQueue] },
    { method: 'get', path: '/v1/generation/job-history', style: 'fooocus-v0', auth: true, handlers: [jobHistory] },
    { method: 'post', path: '/v1/generation/stop', style: 'fooocus-v0', auth: true, handlers: [stop] },
    { method: 'get', path: '/ping', style: 'fooocus-v0', auth: true, handlers: [(_req: Request, res: Response) => void res.json('pong')] },
    { method: 'get', path: '/files/*path', style: 'fooocus-v0', auth: false, handlers: [outputFileHandler(ctx)] },
  ];
}
