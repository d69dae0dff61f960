/**
 * `W + scale·(up @ down)` for the big LoRA products, on onnxruntime's CPU
 * GEMM (MLAS: SIMD, all cores) instead of a JavaScript loop.
 *
 * Why: a rank-r update of an m×n weight is m·n·r multiply-adds, and an SDXL
 * LoRA at rank 32 touching every transformer linear is ~60 G of them. The
 * best single-thread JS kernel (loraDelta.ts addScaledProduct, row-blocked,
 * measured 1.0–1.5 GMAC/s) would take about a minute per new LoRA set; the
 * same update through one tiny ORT graph runs at memory speed, tens of
 * GMAC/s on 2 cores (bench/engine.bench.ts "LoRA merge" rows). The graph is
 * `Add(W, Mul(MatMul(up, down), scale))` with every dimension dynamic, built
 * once per merge; float32 throughout, the order torch evaluates
 * `weight += alpha * torch.mm(up, down)` in.
 *
 * Small products (below SMALL_PRODUCT multiply-adds) stay in JS, where a
 * session call's fixed cost would dominate; so do the rare LoRA kinds (LoHa,
 * LoKr, GLoRA: see loraDelta.ts). If the session cannot be created, every
 * product falls back to JS.
 */
import * as ort from 'onnxruntime-node';
import { encodeModel, GraphBuilder } from '../onnx/graphBuilder.ts';
import { addScaledProduct } from './loraDelta.ts';

/** Products smaller than this many multiply-adds run in JS (~1 ms there; an ORT call costs ~0.1 ms plus copies). */
export const SMALL_PRODUCT = 1 << 20;

export interface LowRankUpdater {
  /** w (m×n, row-major, updated in place) += scale · a (m×k) @ b (k×n). */
  add(w: Float32Array, a: Float32Array, b: Float32Array, m: number, k: number, n: number, scale: number): Promise<void>;
  release(): Promise<void>;
}

/** The JS kernel alone (tests, and the fallback). */
export const jsLowRankUpdater: LowRankUpdater = {
  add: async (w, a, b, m, k, n, scale) => addScaledProduct(w, a, b, m, k, n, scale),
  release: async () => undefined,
};

export async function createLowRankUpdater(opts: { intraOpThreads?: number } = {}): Promise<LowRankUpdater> {
  let session: ort.InferenceSession;
  try {
    const g = new GraphBuilder('lora_low_rank_update', 'float32');
    const w = g.input('w', 'float32', ['M', 'N']);
    const a = g.input('a', 'float32', ['M', 'K']);
    const b = g.input('b', 'float32', ['K', 'N']);
    const scale = g.input('scale', 'float32', []);
    g.output(g.op('Add', [w, g.op('Mul', [g.op('MatMul', [a, b]), scale])]), 'out', 'float32', ['M', 'N']);
    session = await ort.InferenceSession.create(encodeModel(g.build().proto), {
      executionProviders: ['cpu'],
      intraOpNumThreads: opts.intraOpThreads ?? 0,
      graphOptimizationLevel: 'all',
      logSeverityLevel: 3,
    });
  } catch {
    return jsLowRankUpdater;
  }
  return {
    async add(w, a, b, m, k, n, scale) {
      if (m * k * n < SMALL_PRODUCT) {
        addScaledProduct(w, a, b, m, k, n, scale);
        return;
      }
      const out = await session.run({
        w: new ort.Tensor('float32', w, [m, n]),
        a: new ort.Tensor('float32', a, [m, k]),
        b: new ort.Tensor('float32', b, [k, n]),
        scale: new ort.Tensor('float32', Float32Array.of(scale), []),
      });
      w.set(out.out.data as Float32Array);
    },
    release: () => session.release(),
  };
}
