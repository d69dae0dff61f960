/**
 * What the engine is asked to do, and what it reports. The engine knows
 * checkpoints, prompts and pixels — not tasks, HTTP or queues; the worker
 * translates a task's GenerationJob into this.
 */
import type { ImageFormat } from './image/encodeImage.ts';

export interface AdmScalers {
  /** Fooocus default 1.5. */
  positive: number;
  /** Fooocus default 0.8. */
  negative: number;
  /** Fraction of the schedule that uses the scaled sizes; Fooocus default 0.3. */
  end: number;
}

export interface TextToImageJob {
  /** Absolute path of an SDXL single-file .safetensors checkpoint. */
  checkpoint: string;
  /** Positive prompt workloads (after styles); each may use (text:1.2) weighting. */
  positive: string[];
  negative: string[];
  /** How many leading positive workloads add into the pooled vector (default: all). */
  positiveTopK?: number;
  negativeTopK?: number;
  width: number;
  height: number;
  steps: number;
  sampler: string;
  scheduler: string;
  /** CFG scale; 1 skips the negative entirely. */
  cfg: number;
  /** Fooocus sharpness (default 2; 0 disables the filter). */
  sharpness?: number;
  /** Fooocus adaptive CFG threshold (default 7). */
  adaptiveCfg?: number;
  /** Default {1.5, 0.8, 0.3}; {1,1,0} disables the scaling. */
  adm?: AdmScalers;
  /** 1..12, default 2 (SDXL's penultimate layer). */
  clipSkip?: number;
  /** One seed per image, 0..2^63−1. */
  seeds: bigint[];
  /**
   * Per-image prompt workloads, when they differ by image (wildcards,
   * Random Style and [[a,b]] arrays are resolved per seed upstream).
   * Entry i replaces positive/negative for image i.
   */
  perImagePrompts?: { positive: string[]; negative: string[] }[];
  format?: ImageFormat;
  quality?: number;
  /** Produce a JPEG preview with each progress event. */
  previews?: boolean;
  /** Text written into the image files (PNG tEXt / EXIF). */
  metadata?: Record<string, string>;
}

export interface GenerationProgress {
  imageIndex: number;
  imageCount: number;
  /** 1-based step just finished. */
  step: number;
  steps: number;
  /** 0..100 over the whole job. */
  percent: number;
  preview?: Uint8Array;
}

export interface GeneratedImage {
  seed: bigint;
  width: number;
  height: number;
  format: ImageFormat;
  data: Uint8Array;
}

export interface GenerateOptions {
  onProgress?: (p: GenerationProgress) => void;
  signal?: AbortSignal;
}
