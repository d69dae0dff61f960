// GenerationJob → one engine job per image, following Fooocus' `process_prompt`
// (F modules/async_worker.py; pipeline.md §1.2) so the same request encodes the same CLIP
// workloads:
//   1. prompt and negative split into lines (`safe_str`, empty lines dropped); line 1 is the
//      prompt, lines 2..n extra workloads;
//   2. `<lora:name:w>` tags are taken out of line 1 and matched against the LoRA files (as in
//      Fooocus, only line 1 is parsed; tags on later lines stay text);
//   3. per image i, with `rng = random.Random(seed_i)`: wildcards (prompt, negative, extra
//      lines), then arrays (prompt only), then styles with "Random Style" drawn from the
//      same rng (core applyStyles).
// One engine job per image (one seed each), not one job with all seeds: FooocusAPI's stop
// keeps the images finished before it and skip drops only the current one, and the engine
// rejects a whole call when it is aborted; per-image calls keep every finished image and let
// each be uploaded as soon as it exists.
//
// Decisions recorded here:
// - "Fooocus V2" prompt expansion is not implemented in the engine yet (open issue). The
//   style is selected by default in FooocusAPI, so failing such tasks would fail nearly every
//   request: the prompt runs unexpanded and the run's `notes` say so (logged by the worker).
// - LoRAs: merging is not implemented yet (open issue). A requested LoRA whose file is absent
//   is skipped, as Fooocus skips missing LoRA files (noted). A LoRA whose file exists fails
//   the task with invalid_input "LoRA merging is not supported yet: <name>": silently
//   ignoring a LoRA the user has would give a different picture than asked for.
import { realpath } from 'node:fs/promises';
import type { GenerationJob } from '../core/request/generationJob.ts';
import { parseLoraReferences, splitPromptLines } from '../core/request/promptText.ts';
import { applyStyles } from '../core/styles/applyStyles.ts';
import { PythonRandom } from '../core/styles/pythonRandom.ts';
import type { StyleCatalog } from '../core/styles/styleCatalog.ts';
import type { TextToImageJob } from '../engine/job.ts';
import { listModelFiles, ModelFileNotFoundError, resolveModelFile } from '../infra/models/modelDirectory.ts';
import { imageMetadata } from './imageMetadata.ts';
import { applyArrays, applyWildcards, type WildcardWords } from './promptWildcards.ts';
import { TaskInputError } from './taskFailure.ts';
import { assertTextToImageOnly } from './unsupportedFeatures.ts';

export interface PlannedImage {
  index: number;
  seed: bigint;
  /** The engine job for this image alone (seeds: [seed]). */
  job: TextToImageJob;
  /** Styles as applied ("Random Style" resolved). */
  styles: string[];
}

export interface TextToImagePlan {
  checkpoint: string;
  images: PlannedImage[];
  /** What the request asked for that this run does not do (for the log). */
  notes: string[];
  /** Absolute model paths → the names the request used (to keep server paths out of task errors). */
  pathNames: Map<string, string>;
}

export interface PlanOptions {
  modelsDir: string;
  /** Default: the bundled style catalog. */
  catalog?: StyleCatalog;
  /** Wildcard word lists; default none (placeholders become plain words). */
  wildcardWords?: WildcardWords;
  /** Written into image metadata. Default 'fooocus-cloud'. */
  version?: string;
}

export async function planTextToImage(job: GenerationJob, options: PlanOptions): Promise<TextToImagePlan> {
  assertTextToImageOnly(job);
  const notes: string[] = [];
  const inFolder = await resolveModelFile(options.modelsDir, 'checkpoints', job.baseModel);
  // The engine gets the real file: model folders are often links into a shared store, and the
  // engine's graph cache hard-links the weight file it is given — a link to a symlink is a
  // symlink, which onnxruntime refuses as external data outside the model directory.
  const checkpoint = await realpath(inFolder);
  const pathNames = new Map([
    [checkpoint, job.baseModel],
    [inFolder, job.baseModel],
  ]);

  const positiveLines = splitPromptLines(job.prompt);
  const negativeLines = splitPromptLines(job.negativePrompt);
  const loraFiles = await listModelFiles(options.modelsDir, 'loras');
  const { loras, prompt } = parseLoraReferences(
    positiveLines.main,
    job.loras.map((l) => [l.name, l.weight] as const),
    { loraFilenames: loraFiles },
  );
  for (const [name] of loras) {
    if (name === 'None') continue;
    try {
      await resolveModelFile(options.modelsDir, 'loras', name);
    } catch (err) {
      if (err instanceof ModelFileNotFoundError) {
        notes.push(`LoRA '${name}' not found in the loras folder: skipped (as Fooocus does)`);
        continue;
      }
      throw err;
    }
    throw new TaskInputError('invalid_input', `LoRA merging is not supported yet: ${name}`);
  }
  if (job.useExpansion && prompt !== '') {
    notes.push('Fooocus V2 prompt expansion is not implemented yet: the prompt runs unexpanded');
  }

  const images: PlannedImage[] = [];
  for (let i = 0; i < job.imageNumber; i++) {
    const seed = BigInt(job.imageSeeds[i]);
    const rng = new PythonRandom(seed);
    const wild = (text: string) => applyWildcards(text, rng, i, job.readWildcardsInOrder, options.wildcardWords);
    const taskPrompt = applyArrays(wild(prompt), i);
    const taskNegative = wild(negativeLines.main);
    const extraPositive = positiveLines.extra.map(wild);
    const extraNegative = negativeLines.extra.map(wild);
    const styled = applyStyles(
      { prompt: taskPrompt, negativePrompt: taskNegative, extraPositive, extraNegative, styles: job.styles },
      { rng, catalog: options.catalog },
    );
    images.push({
      index: i,
      seed,
      styles: styled.styles,
      job: {
        checkpoint,
        positive: styled.positive,
        negative: styled.negative,
        positiveTopK: styled.positiveTopK,
        negativeTopK: styled.negativeTopK,
        width: job.width,
        height: job.height,
        steps: job.steps,
        sampler: job.sampler,
        scheduler: job.scheduler,
        cfg: job.cfg,
        sharpness: job.sharpness,
        adaptiveCfg: job.adaptiveCfg,
        adm: { ...job.admScalers },
        clipSkip: job.clipSkip,
        seeds: [seed],
        format: job.output.format,
        previews: !job.output.disablePreview,
        metadata: job.output.saveMetadata
          ? imageMetadata({
              job,
              styles: styled.styles,
              logPositive: styled.logPositivePrompt,
              logNegative: styled.logNegativePrompt,
              fullPositive: styled.positive,
              fullNegative: styled.negative,
              seed: seed.toString(),
              version: options.version ?? 'fooocus-cloud',
            })
          : undefined,
      },
    });
  }
  return { checkpoint, images, notes, pathNames };
}
