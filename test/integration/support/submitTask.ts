// The API's half of the path, for integration tests that drive workers without the HTTP API
// in the loop: a FooocusAPI body normalised as the generate route does, the task and its
// outbox entry committed together by TaskStore.create, then the outbox relayed to the
// dispatcher as the API's outbox relay would.
import { randomBytes } from 'node:crypto';
import type { Dispatcher, TaskStore } from '../../../services/core/ports.ts';
import { parseCommonRequest } from '../../../services/core/request/commonRequest.ts';
import { normaliseRequest } from '../../../services/core/request/normaliseRequest.ts';
import type { JsonObject } from '../../../services/core/task/taskRecord.ts';

export interface SubmitTarget {
  store: TaskStore;
  dispatcher: Dispatcher;
}

/** A small, fast text-to-image request: 128×128, 3 steps, seed 42, no LoRAs or styles. */
const SMALL_REQUEST = {
  prompt: 'a red fox in the snow',
  overwrite_width: 128,
  overwrite_height: 128,
  overwrite_step: 3,
  loras: [],
  style_selections: [],
  image_seed: 42,
};

/**
 * Submits SMALL_REQUEST with `body` laid over it (`base_model_name` is the caller's) and
 * dispatches it; returns the task id. Pass `id` to watch the task's events before it exists.
 */
export async function submitTask(target: SubmitTarget, body: Record<string, unknown>, id = newTaskId()): Promise<string> {
  const job = normaliseRequest(parseCommonRequest({ ...SMALL_REQUEST, ...body }));
  await target.store.create({ id, reqParams: JSON.parse(JSON.stringify(job)) as JsonObject });
  await relayPendingOutbox(target);
  return id;
}

export const newTaskId = (): string => randomBytes(16).toString('hex');

/** One outbox relay round: publish every pending entry, then mark them sent. */
export async function relayPendingOutbox(target: SubmitTarget): Promise<void> {
  const entries = await target.store.takeOutbox(100);
  for (const e of entries) await target.dispatcher.publish(e.taskId, e.attempt);
  await target.store.markOutboxSent(entries.map((e) => e.id));
}
