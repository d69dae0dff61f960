// The task row's `reqParams` back to a GenerationJob. The API stores the normalised job
// (services/core/request/generationJob.ts) as the task's reqParams; FooocusAPI's own
// `req_params` record is the job's nested `reqParams`. The job crossed a database and a queue,
// so the fields the worker relies on are checked here (a row written by an older or buggy
// API fails its task with invalid_input instead of crashing the consume loop). `{ job: … }`
// is accepted too, for an API that wraps the job next to other data.
import { z } from 'zod';
import { GENERATION_JOB_VERSION, type GenerationJob } from '../core/request/generationJob.ts';
import type { JsonObject } from '../core/task/taskRecord.ts';
import { TaskInputError } from './taskFailure.ts';

const lora = z.object({ name: z.string(), weight: z.number() });
const image = z.unknown().nullable();

const jobShape = z.looseObject({
  version: z.literal(GENERATION_JOB_VERSION),
  currentTab: z.string(),
  prompt: z.string(),
  negativePrompt: z.string(),
  styles: z.array(z.string()),
  useExpansion: z.boolean(),
  readWildcardsInOrder: z.boolean(),
  performance: z.string(),
  steps: z.number().int(),
  sampler: z.string(),
  scheduler: z.string(),
  cfg: z.number(),
  sharpness: z.number(),
  adaptiveCfg: z.number(),
  admScalers: z.object({ positive: z.number(), negative: z.number(), end: z.number() }),
  clipSkip: z.number().int(),
  freeu: z.looseObject({ enabled: z.boolean() }),
  width: z.number().int(),
  height: z.number().int(),
  imageNumber: z.number().int().min(1),
  imageSeeds: z.array(z.string().regex(/^\d+$/)).min(1),
  baseModel: z.string(),
  refinerModel: z.string().nullable(),
  vae: z.string(),
  loras: z.array(lora),
  performanceLora: lora.nullable(),
  output: z.looseObject({
    format: z.enum(['png', 'jpeg', 'webp']),
    extension: z.enum(['png', 'jpeg', 'jpg', 'webp']),
    saveMetadata: z.boolean(),
    metadataScheme: z.enum(['fooocus', 'a1111']),
    disablePreview: z.boolean(),
  }),
  uov: z.looseObject({ method: z.string(), image }),
  inpaint: z.looseObject({ image }),
  imagePrompts: z.array(z.looseObject({ image, type: z.string() })),
  controlnet: z.looseObject({ mixingImagePromptAndVaryUpscale: z.boolean(), mixingImagePromptAndInpaint: z.boolean() }),
  enhance: z.looseObject({
    enabled: z.boolean(),
    image,
    uovMethod: z.string(),
    tabs: z.array(z.looseObject({ enabled: z.boolean() })),
  }),
});

export function readGenerationJob(reqParams: JsonObject): GenerationJob {
  const candidate = isObject(reqParams.job) && !('version' in reqParams) ? reqParams.job : reqParams;
  const parsed = jobShape.safeParse(candidate);
  if (!parsed.success) {
    const where = parsed.error.issues
      .slice(0, 3)
      .map((i) => `${i.path.join('.') || '(root)'}: ${i.message}`)
      .join('; ');
    throw new TaskInputError('invalid_input', `the task's parameters are not a generation job this worker can run (${where})`, {
      cause: parsed.error,
    });
  }
  if (parsed.data.imageSeeds.length < parsed.data.imageNumber) {
    throw new TaskInputError('invalid_input', `the task has ${parsed.data.imageSeeds.length} seeds for ${parsed.data.imageNumber} images`);
  }
  return parsed.data as unknown as GenerationJob;
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
