/**
 * Which surface created a task, stored with it. A task submitted through the Fooocus-API
 * (old) routes carries `fooocusApiV0` next to the GenerationJob in its reqParams (the worker
 * reads the job with a loose schema and ignores the key, services/worker/readGenerationJob.ts).
 * It decides the webhook body (§5.2 instead of §5.1) and keeps what only the old responses
 * need: the job type the route implied and `require_base64`.
 */
import type { GenerationJob } from '../../core/request/generationJob.ts';
import type { JsonObject, Task } from '../../core/task/taskRecord.ts';
import { storedJobOf } from '../responses/storedJob.ts';

/** Fooocus-API `TaskType` values (§8.3). */
export const JOB_TYPES = ['Text to Image', 'Image Upscale or Variation', 'Image Inpaint or Outpaint', 'Image Prompt', 'Image Enhancement', 'Not Found'] as const;
export type JobType = (typeof JOB_TYPES)[number];

export interface LegacyTaskMarker {
  jobType: JobType;
  requireBase64: boolean;
}

export const LEGACY_MARKER_KEY = 'fooocusApiV0';

/** The extra reqParams entry for a task created through an old route. */
export function legacyReqParams(marker: LegacyTaskMarker): JsonObject {
  return { [LEGACY_MARKER_KEY]: { jobType: marker.jobType, requireBase64: marker.requireBase64 } };
}

/** The marker, or null for a task created through the FooocusAPI (new) surface. */
export function legacyMarkerOf(task: Pick<Task, 'reqParams'>): LegacyTaskMarker | null {
  const m = (task.reqParams as Record<string, unknown>)[LEGACY_MARKER_KEY];
  if (!m || typeof m !== 'object' || Array.isArray(m)) return null;
  const { jobType, requireBase64 } = m as Record<string, unknown>;
  return {
    jobType: (JOB_TYPES as readonly unknown[]).includes(jobType) ? (jobType as JobType) : 'Text to Image',
    requireBase64: requireBase64 === true,
  };
}

/**
 * The job type shown for a task: the old route's for old tasks; for a task submitted through
 * /v1/engine/generate/ it is derived from the detected tab and which image it has.
 */
export function jobTypeOf(task: Pick<Task, 'reqParams'>): JobType {
  const marker = legacyMarkerOf(task);
  if (marker) return marker.jobType;
  const job = storedJobOf(task) as GenerationJob | null;
  if (!job) return 'Text to Image';
  if (job.currentTab === 'enhance' && job.enhance?.image) return 'Image Enhancement';
  if (job.currentTab === 'ip' && job.imagePrompts?.[0]?.image) return 'Image Prompt';
  if (job.currentTab === 'uov' && job.uov?.image) return 'Image Upscale or Variation';
  if (job.currentTab === 'inpaint' && job.inpaint?.image) return 'Image Inpaint or Outpaint';
  return 'Text to Image';
}
