/**
 * Task queries (api-contract §4.4, §4.5) plus the resumable event stream.
 *
 * GET /tasks/{task_id}   the running view for a running task, the row otherwise; an unknown
 *                        id is 200 `[]` (FooocusAPI, not 404).
 * GET /tasks             `query` all|history|current|pending (anything else: three empty
 *                        lists), `page`, `page_size`, `start_at`, `end_at`, `action=delete`.
 *   - history: every task that is not queued, newest first, paginated — or, with a valid time
 *     range, every such task created in it, oldest first, unpaginated (FooocusAPI's two paths).
 *   - current: running tasks (FooocusAPI has at most one; several workers may give several).
 *   - pending: queued tasks, oldest first, sliced by page.
 *   - action=delete: with a valid range, deletes the tasks created in it, then their output
 *     files (blobs.delete) — inputs are never deleted — and answers `null`; without a valid
 *     range it deletes nothing and still answers `null`.
 *   Times are `YYYY-MM-DDTHH:MM:SS` (anything after 19 chars ignored) in the server's local
 *   time, as FooocusAPI parses them; unparseable ⇒ no bound; `start_at >= end_at` or no
 *   `start_at` disables the filter. Deviation: `end_at` defaults to NOW, not the server's
 *   start time (docs/compat.md).
 * GET /tasks/{task_id}/events   (addition) the task's stream in the generate stream's
 *   format, with `id:` per event and a `retry:` hint; `Last-Event-ID` (header, or
 *   `last_event_id` query for clients that cannot set headers) replays exactly the events
 *   after it, then continues live, then closes after the last one. A finished task replays
 *   its retained events (or its last event rebuilt from the row); reconnecting after the last
 *   event gets 204, which tells EventSource to stop. Unknown task ⇒ 404 problem+json.
 */
import type { Request, Response } from 'express';
import { NotFoundError, ValidationError, type ValidationIssue } from '../../core/errors.ts';
import type { Task } from '../../core/task/taskRecord.ts';
import { isTerminal, statusesForFooocusQuery, TaskStatus } from '../../core/task/taskStatus.ts';
import type { ApiContext } from '../http/apiContext.ts';
import type { RouteGroup } from '../http/routeTable.ts';
import { currentRecord, recordFor, recordJson, taskRow } from '../responses/fooocusRecord.ts';
import { streamTaskEvents } from '../responses/streamTaskEvents.ts';
import { queryInt } from '../http/queryParams.ts';
import { singleQuery } from './control.ts';

export function tasksRoutes(ctx: ApiContext): RouteGroup {
  const options = { publicBaseUrl: ctx.publicBaseUrl, fooocusFailures: ctx.config.FOOOCUS_STATUS_COMPAT };

  async function getTask(req: Request, res: Response): Promise<void> {
    const task = await ctx.store.get(String(req.params.task_id));
    if (!task) {
      res.json([]);
      return;
    }
    res.type('application/json').send(recordJson(recordFor(task, options)));
  }

  async function listTasks(req: Request, res: Response): Promise<void> {
    const issues: ValidationIssue[] = [];
    const query = singleQuery(req, 'query') ?? 'all';
    const page = queryInt(req, 'page', 0, issues);
    const pageSize = queryInt(req, 'page_size', 10, issues);
    const startRaw = singleQuery(req, 'start_at');
    const endRaw = singleQuery(req, 'end_at');
    const action = singleQuery(req, 'action')?.toLowerCase();
    if (issues.length > 0) throw new ValidationError(issues);

    let start = startRaw === undefined ? null : parseFooocusTime(startRaw);
    let end = endRaw === undefined ? new Date() : parseFooocusTime(endRaw);
    if (start === null || end === null || start.getTime() >= end.getTime()) {
      start = null;
      end = null;
    }
    const range = start && end ? { createdFrom: start, createdTo: end } : null;

    if (action === 'delete') {
      if (range) await deleteTasks(ctx, await ctx.store.list({ ...range, order: 'oldest' }));
      res.json(null);
      return;
    }

    const body: { history: unknown[]; current: unknown[]; pending: unknown[] } = { history: [], current: [], pending: [] };
    const wants = (list: 'history' | 'current' | 'pending') => query === 'all' || query === list;
    if (wants('history')) {
      const statuses = statusesForFooocusQuery('history');
      const rows = range
        ? await ctx.store.list({ statuses, ...range, order: 'oldest' })
        : await ctx.store.list({ statuses, order: 'newest', page, pageSize });
      body.history = rows.map((t) => taskRow(t, options));
    }
    if (wants('current')) {
      const rows = await ctx.store.list({ statuses: statusesForFooocusQuery('current'), order: 'oldest' });
      body.current = rows.map((t) => currentRecord(t, options));
    }
    if (wants('pending')) {
      const rows =
        pageSize > 0 && page >= 0
          ? await ctx.store.list({ statuses: statusesForFooocusQuery('pending'), order: 'oldest', page, pageSize })
          : [];
      body.pending = rows.map((t) => taskRow(t, options));
    }
    res.type('application/json').send(recordJson(body));
  }

  async function taskEvents(req: Request, res: Response): Promise<void> {
    const taskId = String(req.params.task_id);
    const task = await ctx.store.get(taskId);
    if (!task) throw new NotFoundError('task', taskId);
    const lastId = parseLastEventId(req.get('last-event-id') ?? singleQuery(req, 'last_event_id'));
    if (lastId > 0 && isTerminal(task.status)) {
      const after = await ctx.events.replay(taskId, lastId);
      if (after.length === 0) {
        res.status(204).end();
        return;
      }
    }
    const stream = ctx.sse.open(req, res, { 'X-Task-Id': taskId }, { eventIds: true });
    await streamTaskEvents(ctx, stream, taskId, {
      afterSeq: lastId,
      format: options,
      onWatchError: (err) => ctx.logger.debug({ err, taskId }, 'event stream ended without a terminal event'),
    });
  }

  return {
    routes: [
      { method: 'get', path: '/tasks', style: 'fooocus', auth: true, handlers: [listTasks] },
      { method: 'get', path: '/tasks/:task_id', style: 'fooocus', auth: true, handlers: [getTask] },
      { method: 'get', path: '/tasks/:task_id/events', style: 'problem', auth: true, handlers: [taskEvents] },
    ],
  };
}

/** Rows first, then files: a crash in between leaves orphan files, never rows without files. */
export async function deleteTasks(ctx: ApiContext, tasks: readonly Task[]): Promise<void> {
  if (tasks.length === 0) return;
  const { deletedIds, outputKeys } = await ctx.store.deleteMany(tasks.map((t) => t.id));
  if (outputKeys.length > 0) await ctx.blobs.delete(outputKeys);
  // A queued task that is gone will never run; a running one's worker is told to stop (its
  // fenced updates will match nothing anyway).
  const running = new Set(tasks.filter((t) => t.status === TaskStatus.running).map((t) => t.id));
  for (const id of deletedIds) if (running.has(id)) await ctx.events.control(id, 'stop').catch(() => {});
}

/** FooocusAPI `date_to_timestamp`: `^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}`, naive local time. */
export function parseFooocusTime(value: string): Date | null {
  const m = /^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2}):(\d{2})/.exec(value);
  if (!m) return null;
  const [, y, mo, d, h, mi, s] = m.map(Number);
  const date = new Date(y, mo - 1, d, h, mi, s);
  return Number.isNaN(date.getTime()) ? null : date;
}

function parseLastEventId(value: string | undefined): number {
  if (value === undefined || !/^\d+$/.test(value.trim())) return 0;
  return Number(value.trim());
}
