/**
 * Fooocus-API job ids (api-contract §8.6): the old project named jobs `str(uuid.uuid4())`, with
 * dashes; our task ids are the same 128 bits as 32 hex characters (FooocusAPI's `uuid4().hex`).
 * The compat routes show the dashed 8-4-4-4-12 form and accept either form back.
 */

const HEX32 = /^[0-9a-f]{32}$/;
const DASHED = /^([0-9a-f]{8})-([0-9a-f]{4})-([0-9a-f]{4})-([0-9a-f]{4})-([0-9a-f]{12})$/;

/** `0123…cdef` (32 hex) → `01234567-89ab-cdef-0123-456789abcdef`. Other ids are returned unchanged. */
export function toJobId(taskId: string): string {
  if (!HEX32.test(taskId)) return taskId;
  return `${taskId.slice(0, 8)}-${taskId.slice(8, 12)}-${taskId.slice(12, 16)}-${taskId.slice(16, 20)}-${taskId.slice(20)}`;
}

/** A job id as a client sends it (dashed or plain hex, any case) → the task id, or null when it cannot be one. */
export function taskIdOfJobId(jobId: string): string | null {
  const s = jobId.trim().toLowerCase();
  if (HEX32.test(s)) return s;
  const m = DASHED.exec(s);
  return m ? m.slice(1).join('') : null;
}
