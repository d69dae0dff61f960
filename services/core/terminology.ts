/**
 * Terminology — the words the core uses, defined once.
 *
 * task        One generate request accepted by the API, identified by a 32-hex `task_id`
 *             (FooocusAPI's uuid4().hex). It owns a `GenerationJob`, a status and a record
 *             (`req_params`, results). One task may produce several images (`image_number`).
 * attempt     One execution of a task by a worker, numbered from 1. A redelivered task runs again
 *             as a new attempt; only the current attempt may complete it (fenced updates), and
 *             outputs are stored under attempt-scoped keys.
 * event       A progress/preview/result notification of a task (`events.<task_id>`), relayed to
 *             SSE clients and webhooks; ordered per task, replayable.
 * output      A file a task produced (an image under `outputs/<date>/<name>.<ext>`), referenced by
 *             URL in the record; `inputs/` holds the client's decoded input images by content hash.
 * preset      A named bundle of request defaults (`presets/<name>.json`, FooocusAPI format); a
 *             request field takes the preset value only while it still equals the default.
 * style       A named prompt template (`{prompt}` placeholder + negative) from the style catalog;
 *             "Fooocus V2" (prompt expansion) and "Random Style" are special names, not templates.
 * checkpoint  A single-file SDXL `.safetensors` model (`base_model_name`, `refiner_model_name`),
 *             addressed by file name; LoRAs and VAEs are separate files applied on top.
 */
export const TERMINOLOGY = {
  task: 'One accepted generate request with its job, status and record; identified by a 32-hex task_id.',
  attempt: 'One execution of a task by a worker; only the current attempt may complete it.',
  event: 'A per-task progress, preview or result notification relayed to SSE clients and webhooks.',
  output: 'A file a task produced, stored under outputs/ and referenced by URL in the record.',
  preset: 'A named bundle of request defaults applied only to fields still at their default.',
  style: 'A named prompt template from the style catalog; "Fooocus V2" and "Random Style" are special.',
  checkpoint: 'A single-file SDXL .safetensors model addressed by file name.',
} as const;

export type Term = keyof typeof TERMINOLOGY;
