/**
 * POST /v1/engine/control?action=stop|skip[&task_id=] (api-contract §1.2, §5.3).
 *
 * FooocusAPI's contract, kept: `action` is a required QUERY parameter (422 at
 * `["query","action"]` when missing), compared case-sensitively; any other value answers 200
 * `{"message":"Invalid control action"}`; with nothing running, `{"message":"No task running"}`;
 * otherwise `{"message":"task stoped"}` / `{"message":"task skiped"}` (sic).
 *
 * Without task_id the action goes to "the running task" (EventBus.control(null, …)): every
 * worker applies it to the task it is running, which with one worker is exactly FooocusAPI.
 * Addition: `task_id` targets one task. A queued task is canceled in the store on `stop` (it
 * will never run; its `canceled` event is published here, the only writer whose fenced
 * update matched) — FooocusAPI cannot do this at all. `skip` on a queued task, or any action
 * on a finished one, answers "No task running". An unknown task_id is 404.
 */
import type { Request, Response } from 'express';
import { NotFoundError, ValidationError } from '../../core/errors.ts';
import type { ControlAction } from '../../core/task/taskEvents.ts';
import { TaskStatus } from '../../core/task/taskStatus.ts';
import type { ApiContext } from '../http/apiContext.ts';
import type { RouteGroup } from '../http/routeTable.ts';

const MESSAGES: Record<ControlAction, string> = { stop: 'task stoped', skip: 'task skiped' };

export function controlRoutes(ctx: ApiContext): RouteGroup {
  async function control(req: Request, res: Response): Promise<void> {
    const action = singleQuery(req, 'action');
    if (action === undefined) {
      throw new ValidationError([{ type: 'missing', loc: ['query', 'action'], msg: 'Field required', input: null }]);
    }
    if (action !== 'stop' && action !== 'skip') {
      res.json({ message: 'Invalid control action' });
      return;
    }
    const taskId = singleQuery(req, 'task_id');
    if (taskId === undefined || taskId === '') {
      const running = await ctx.store.list({ statuses: [TaskStatus.running], pageSize: 1 });
      if (running.length === 0) {
        res.json({ message: 'No task running' });
        return;
      }
      await ctx.events.control(null, action);
      res.json({ message: MESSAGES[action] });
      return;
    }

    const task = await ctx.store.get(taskId);
    if (!task) throw new NotFoundError('task', taskId);
    if (task.status === TaskStatus.running) {
      await ctx.events.control(task.id, action);
      res.json({ message: MESSAGES[action] });
      return;
    }
    if (task.status === TaskStatus.queued && action === 'stop') {
      const result = await ctx.store.cancel(task.id);
      if (result.outcome === 'canceled') {
        if (result.previous === TaskStatus.running) await ctx.events.control(task.id, 'stop');
        await ctx.events.emit(task.id, { type: 'canceled' });
        res.json({ message: MESSAGES.stop });
        return;
      }
    }
    res.json({ message: 'No task running' });
  }

  return { routes: [{ method: 'post', path: '/v1/engine/control', style: 'fooocus', auth: true, handlers: [control] }] };
}

/** A query parameter's last value as a string (FastAPI takes the last of repeated params). */
export function singleQuery(req: Request, name: string): string | undefined {
  const v = req.query[name];
  if (v === undefined) return undefined;
  if (Array.isArray(v)) {
    const last = v[v.length - 1];
    return typeof last === 'string' ? last : undefined;
  }
  return typeof v === 'string' ? v : undefined;
}
