/**
 * Hosts the engine in a worker thread.
 *
 * onnxruntime-node's `run` executes synchronously on the calling JS thread
 * (its binding wraps a synchronous session; measured: see README "Engine
 * runtime"), so a UNet step would freeze heartbeats, HTTP and SSE for its
 * whole duration. The sampling loop and the sessions therefore live in one
 * worker thread; the host exchanges only jobs, progress and results with it.
 * Cancellation crosses as a message and is checked between steps (and
 * between upscaler tiles). Generate, upscale and prepareInpaint share the id
 * space, the abort message and the one-at-a-time queue of the thread.
 */
import { Worker } from 'node:worker_threads';
import type { EngineConfig } from './engineConfig.ts';
import type {
  GenerateOptions, GeneratedImage, GenerationProgress, InpaintPrepareRequest, PreparedInpaint, TextToImageJob, UpscaledImage, UpscaleImageOptions, UpscaleProgress,
} from './job.ts';
import type { RgbImage } from './upscale/tiledUpscale.ts';
import { reviveEngineError, type SerializedError } from './engineErrorTransport.ts';
import { EngineAbortedError } from './io/engineErrors.ts';

export type ToThread =
  | { type: 'generate'; id: number; job: TextToImageJob }
  | { type: 'upscale'; id: number; modelPath: string; pixels: RgbImage; options: Pick<UpscaleImageOptions, 'resize' | 'blackOutNsfw'> }
  | { type: 'prepareInpaint'; id: number; request: InpaintPrepareRequest }
  | { type: 'abort'; id: number; kind: 'stop' | 'skip' | 'abort' };

export type FromThread =
  | { type: 'progress'; id: number; progress: GenerationProgress }
  | { type: 'upscaleProgress'; id: number; progress: UpscaleProgress }
  | { type: 'result'; id: number; images: GeneratedImage[] }
  | { type: 'upscaled'; id: number; image: UpscaledImage }
  | { type: 'inpaintPrepared'; id: number; prepared: PreparedInpaint | null }
  | { type: 'error'; id: number; error: SerializedError }
  | { type: 'ready' };

interface Pending {
  resolve: (v: unknown) => void;
  reject: (e: unknown) => void;
  onProgress?: (p: unknown) => void;
}

export class EngineHost {
  private worker: Worker;
  private pending = new Map<number, Pending>();
  private nextId = 1;
  private closed = false;
  private dead: Error | null = null;

  constructor(config: EngineConfig) {
    this.worker = spawnEngineThread(config);
    this.worker.on('message', (m: FromThread) => this.onMessage(m));
    this.worker.on('error', (e) => this.failAll(e));
    this.worker.on('exit', (code) => {
      this.dead = new Error(`engine thread exited with code ${code}`);
      if (!this.closed) this.failAll(this.dead);
    });
  }

  generate(job: TextToImageJob, opts: GenerateOptions = {}): Promise<GeneratedImage[]> {
    return this.call((id) => ({ type: 'generate', id, job }), opts.signal, opts.onProgress as Pending['onProgress']);
  }

  /** Engine.upscale in the thread (the pixels are copied over, the result transferred back). */
  upscale(modelPath: string, pixels: RgbImage, opts: UpscaleImageOptions = {}): Promise<UpscaledImage> {
    const { signal, onProgress, ...options } = opts;
    const plain = { data: pixels.data, width: pixels.width, height: pixels.height };
    return this.call((id) => ({ type: 'upscale', id, modelPath, pixels: plain, options }), signal, onProgress as Pending['onProgress']);
  }

  /** Engine.prepareInpaint in the thread (mask work, ESRGAN and the fill are seconds of CPU). */
  prepareInpaint(request: InpaintPrepareRequest, opts: { signal?: AbortSignal } = {}): Promise<PreparedInpaint | null> {
    return this.call((id) => ({ type: 'prepareInpaint', id, request }), opts.signal, undefined);
  }

  private call<T>(message: (id: number) => ToThread, signal: AbortSignal | undefined, onProgress: Pending['onProgress']): Promise<T> {
    if (this.closed) return Promise.reject(new Error('engine host is closed'));
    if (this.dead) return Promise.reject(this.dead);
    // Already aborted: never started (the thread would begin it before the abort message landed).
    if (signal?.aborted) return Promise.reject(signal.reason instanceof EngineAbortedError ? signal.reason : new EngineAbortedError());
    const id = this.nextId++;
    return new Promise<T>((resolve, reject) => {
      this.pending.set(id, { resolve: resolve as (v: unknown) => void, reject, onProgress });
      const onAbort = () => {
        const reason = signal?.reason;
        const kind = reason instanceof EngineAbortedError ? reason.kind : 'abort';
        this.worker.postMessage({ type: 'abort', id, kind } satisfies ToThread);
      };
      this.worker.postMessage(message(id));
      signal?.addEventListener('abort', onAbort, { once: true });
    });
  }

  async close(): Promise<void> {
    this.closed = true;
    this.failAll(new Error('engine host closed'));
    await this.worker.terminate();
  }

  private onMessage(m: FromThread): void {
    if (m.type === 'ready') return;
    const p = this.pending.get(m.id);
    if (!p) return;
    if (m.type === 'progress' || m.type === 'upscaleProgress') {
      p.onProgress?.(m.progress);
    } else if (m.type === 'result') {
      this.pending.delete(m.id);
      p.resolve(m.images);
    } else if (m.type === 'upscaled') {
      this.pending.delete(m.id);
      p.resolve(m.image);
    } else if (m.type === 'inpaintPrepared') {
      this.pending.delete(m.id);
      p.resolve(m.prepared);
    } else {
      this.pending.delete(m.id);
      p.reject(reviveEngineError(m.error));
    }
  }

  private failAll(e: unknown): void {
    for (const [id, p] of this.pending) {
      this.pending.delete(id);
      p.reject(e);
    }
  }
}

/**
 * Starts the engine thread. Sources are TypeScript run through tsx, and a
 * worker thread does not inherit the parent's loader hooks, so the thread
 * first registers tsx's ESM loader, then imports the engine module.
 */
function spawnEngineThread(config: EngineConfig): Worker {
  const entry = new URL('./engineThread.ts', import.meta.url).href;
  const tsxApi = import.meta.resolve('tsx/esm/api');
  const bootstrap = `import(${JSON.stringify(tsxApi)}).then((m) => { m.register(); return import(${JSON.stringify(entry)}); })`;
  return new Worker(bootstrap, { eval: true, workerData: config });
}
