// Keeps a worker useful after its engine thread dies. EngineHost rejects every later job once
// its thread has exited (a native crash, an out-of-memory abort); without a fresh thread the
// worker would nak every task it fetched until the pod is restarted, and a crash-looping pod
// is what B7 says to avoid. So after any error that is not one of the engine's typed answers
// (bad checkpoint, bad input, aborted), the host is closed and the next job gets a new one.
// The failed task itself is retried through the normal transient path (nak, bounded by
// max_deliver), so a poison task ends as worker_crash instead of taking the fleet down.
import type { Logger } from 'pino';
import { CheckpointError, EngineAbortedError, EngineInputError } from '../engine/io/engineErrors.ts';
import type { GeneratedImage, GenerateOptions, InpaintPrepareRequest, PreparedInpaint, TextToImageJob, UpscaledImage, UpscaleImageOptions } from '../engine/job.ts';
import type { RgbImage } from '../engine/upscale/tiledUpscale.ts';
import type { ImageEngine } from './taskAttempt.ts';

export interface ClosableEngine extends ImageEngine {
  close(): Promise<void>;
}

export class RespawningEngine implements ClosableEngine {
  private host: ClosableEngine | null = null;
  private closed = false;

  constructor(
    private readonly create: () => ClosableEngine,
    private readonly logger?: Logger,
  ) {}

  generate(job: TextToImageJob, options?: GenerateOptions): Promise<GeneratedImage[]> {
    return this.run((host) => host.generate(job, options));
  }

  upscale(modelPath: string, pixels: RgbImage, options?: UpscaleImageOptions): Promise<UpscaledImage> {
    return this.run((host) => host.upscale(modelPath, pixels, options));
  }

  prepareInpaint(request: InpaintPrepareRequest, options?: { signal?: AbortSignal }): Promise<PreparedInpaint | null> {
    return this.run((host) => host.prepareInpaint(request, options));
  }

  private async run<T>(work: (host: ClosableEngine) => Promise<T>): Promise<T> {
    if (this.closed) throw new Error('engine closed');
    const host = (this.host ??= this.create());
    try {
      return await work(host);
    } catch (err) {
      const typed = err instanceof CheckpointError || err instanceof EngineInputError || err instanceof EngineAbortedError;
      if (!typed && this.host === host) {
        this.logger?.warn({ err }, 'engine failed: starting a fresh engine thread for the next task');
        this.host = null;
        host.close().catch(() => {});
      }
      throw err;
    }
  }

  async close(): Promise<void> {
    this.closed = true;
    const host = this.host;
    this.host = null;
    await host?.close();
  }
}
