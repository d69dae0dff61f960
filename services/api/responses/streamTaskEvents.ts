/**
 * One task's stream events written onto an open SSE stream, shared by the generate stream
 * (`stream_output: true`) and GET /tasks/{task_id}/events: the events after `afterSeq` in
 * the FooocusAPI stream format (streamEvent.ts), each with its bus seq, then the stream is
 * ended. The terminal event normally arrives through the bus; a task that ended before we
 * subscribed (its events aged out) gets its last event rebuilt from the row instead.
 */
import type { ApiContext } from '../http/apiContext.ts';
import { watchTask } from '../http/watchTask.ts';
import type { SseStream } from '../sse.ts';
import { pythonJsonDumps } from './pythonJson.ts';
import { finalEventFromTask, streamEventFor, type StreamEventOptions } from './streamEvent.ts';

export interface StreamTaskEventsOptions {
  /** Send only events after this bus seq (0: all retained). */
  afterSeq: number;
  format: StreamEventOptions;
  /** Called when watching ended without the task's outcome (bus or store error). */
  onWatchError: (err: unknown) => void;
}

export async function streamTaskEvents(ctx: ApiContext, stream: SseStream, taskId: string, options: StreamTaskEventsOptions): Promise<void> {
  const watch = watchTask(ctx, taskId, {
    afterSeq: options.afterSeq,
    recheckMs: ctx.config.SYNC_RECHECK_MS,
    onEvent: async (envelope) => {
      const event = await streamEventFor(envelope.event, options.format);
      if (event && !stream.closed) stream.send(pythonJsonDumps(event), envelope.seq);
    },
  });
  stream.onClose(() => void watch.stop());
  try {
    const outcome = await watch.done;
    if (!outcome.terminal && !stream.closed) stream.send(pythonJsonDumps(finalEventFromTask(outcome.task, options.format)));
  } catch (err) {
    options.onWatchError(err);
  } finally {
    stream.end();
  }
}
