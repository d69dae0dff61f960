// Generation parameters written into each output image when `save_metadata_to_images` is on
// (api-contract §6.1), in the request's `metadata_scheme`:
// - 'fooocus': a JSON object with Fooocus' log keys (prompt, negative_prompt, styles, …);
// - 'a1111': the plain-text block A1111 tools parse ("<prompt>\nNegative prompt: …\nSteps: …").
// The engine stores the record in the file (EXIF ImageDescription). Only what this engine
// actually used is recorded: no refiner, no LoRAs, no expansion text.
import type { GenerationJob } from '../core/request/generationJob.ts';

export interface ImageMetadataInput {
  job: GenerationJob;
  /** Styles as applied ("Random Style" resolved). */
  styles: readonly string[];
  /** Prompt lines as typed (Fooocus' log prompt) and the workloads actually encoded. */
  logPositive: string;
  logNegative: string;
  fullPositive: readonly string[];
  fullNegative: readonly string[];
  seed: string;
  version: string;
}

export function imageMetadata(input: ImageMetadataInput): Record<string, string> {
  const { job } = input;
  if (job.output.metadataScheme === 'a1111') {
    const fields = [
      `Steps: ${job.steps}`,
      `Sampler: ${job.sampler}`,
      `Scheduler: ${job.scheduler}`,
      `CFG scale: ${job.cfg}`,
      `Seed: ${input.seed}`,
      `Size: ${job.width}x${job.height}`,
      `Model: ${stem(job.baseModel)}`,
      `Sharpness: ${job.sharpness}`,
      `Performance: ${job.performance}`,
      `Styles: ${JSON.stringify(input.styles)}`,
      `Version: ${input.version}`,
    ];
    const text = `${input.fullPositive.join(', ')}\nNegative prompt: ${input.fullNegative.join(', ')}\n${fields.join(', ')}`;
    return { parameters: text, fooocus_scheme: 'a1111' };
  }
  const record = {
    prompt: input.logPositive,
    negative_prompt: input.logNegative,
    full_prompt: input.fullPositive,
    full_negative_prompt: input.fullNegative,
    styles: input.styles,
    performance: job.performance,
    steps: job.steps,
    resolution: `(${job.width}, ${job.height})`,
    guidance_scale: job.cfg,
    sharpness: job.sharpness,
    adm_guidance: `(${job.admScalers.positive}, ${job.admScalers.negative}, ${job.admScalers.end})`,
    base_model: job.baseModel,
    sampler: job.sampler,
    scheduler: job.scheduler,
    adaptive_cfg: job.adaptiveCfg,
    clip_skip: job.clipSkip,
    seed: input.seed,
    metadata_scheme: 'fooocus',
    version: input.version,
  };
  return { parameters: JSON.stringify(record), fooocus_scheme: 'fooocus' };
}

function stem(name: string): string {
  const base = name.split('/').pop() ?? name;
  const dot = base.lastIndexOf('.');
  return dot > 0 ? base.slice(0, dot) : base;
}
