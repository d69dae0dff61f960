/**
 * Thin layer over onnxruntime-node sessions: creation with our options and
 * float32 in/out whatever the graph's compute type (fp16 graphs take and give
 * IEEE half bits as Uint16Array; Node 20 has no Float16Array).
 */
import * as ort from 'onnxruntime-node';
import { floatToHalf, halfToFloat } from '../io/half.ts';

export interface SessionOptions {
  providers: ort.InferenceSession.ExecutionProviderConfig[];
  /** Threads for one operator; 0 lets ORT choose (all cores). */
  intraOpThreads?: number;
}

export async function createSession(modelPath: string, opts: SessionOptions): Promise<ort.InferenceSession> {
  return ort.InferenceSession.create(modelPath, {
    executionProviders: opts.providers,
    graphOptimizationLevel: 'all',
    intraOpNumThreads: opts.intraOpThreads ?? 0,
    // No CPU arena: each session's arena keeps the peak of its largest run for the session's
    // life, and a worker holds many sessions (base, LoRA variants, FreeU / inpaint / IP /
    // control UNet variants, VAE, upscaler). Measured on the image-input worker suite (Vary,
    // Upscale, inpaint, image prompts at Fooocus's 1024 shape ceil): peak RSS 14.1 GB with
    // arenas, 4.1 GB without. Activations go back to the system after every run.
    enableCpuMemArena: false,
    logSeverityLevel: 3,
  });
}

export type Feed =
  | { type: 'float'; data: Float32Array; dims: readonly number[] }
  | { type: 'int64'; data: BigInt64Array; dims: readonly number[] };

/** Inputs of float kind are converted to the graph's element type. */
export function toOrtTensor(feed: Feed, compute: 'float32' | 'float16'): ort.Tensor {
  if (feed.type === 'int64') return new ort.Tensor('int64', feed.data, feed.dims);
  if (compute === 'float32') return new ort.Tensor('float32', feed.data, feed.dims);
  const h = new Uint16Array(feed.data.length);
  for (let i = 0; i < h.length; i++) h[i] = floatToHalf(feed.data[i]);
  return new ort.Tensor('float16', h, feed.dims);
}

export function tensorToFloat32(t: ort.Tensor): Float32Array {
  if (t.type === 'float32') return t.data as Float32Array;
  if (t.type === 'float16') {
    const h = t.data as Uint16Array;
    const out = new Float32Array(h.length);
    for (let i = 0; i < h.length; i++) out[i] = halfToFloat(h[i]);
    return out;
  }
  throw new Error(`unexpected output tensor type ${t.type}`);
}

/** Runs a session on float32/int64 feeds, returns float32 outputs by name. */
export async function runFloat(
  session: ort.InferenceSession,
  compute: 'float32' | 'float16',
  feeds: Record<string, Feed>,
  outputs?: string[],
): Promise<Record<string, { data: Float32Array; dims: readonly number[] }>> {
  const ortFeeds: Record<string, ort.Tensor> = {};
  for (const [k, v] of Object.entries(feeds)) ortFeeds[k] = toOrtTensor(v, compute);
  const res = outputs ? await session.run(ortFeeds, outputs) : await session.run(ortFeeds);
  const out: Record<string, { data: Float32Array; dims: readonly number[] }> = {};
  for (const [k, t] of Object.entries(res)) out[k] = { data: tensorToFloat32(t), dims: t.dims };
  return out;
}
