/**
 * Full-size SDXL UNet step timing on a GPU execution provider (random fp16
 * weights; FLOPs do not depend on them): batch 2 (cond + uncond), 128×128
 * latent (1024 px), 154-token context. The baseline is the same graph on the
 * CPU provider of the same machine, measured in the same run.
 *
 *   npx tsx bench/gpuUnetStep.ts [workdir] [providers=webgpu,cpu]
 *
 * Also bundled to one file for machines without the dev toolchain (see
 * scripts/gpu-bench/); the README records what worked where.
 */
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import * as ort from 'onnxruntime-node';
import { openSafetensors } from '../services/engine/io/safetensors.ts';
import { checkpointWeights } from '../services/engine/onnx/weightSource.ts';
import { buildUnetGraph } from '../services/engine/graphs/unetGraph.ts';
import type { UnetConfig } from '../services/engine/graphs/unetConfig.ts';
import { saveModel } from '../services/engine/onnx/saveModel.ts';
import { writeRandomSdxlCheckpoint } from './randomCheckpoint.ts';

export const SDXL_BASE_UNET: UnetConfig = {
  inChannels: 4, outChannels: 4, modelChannels: 320, channelMult: [1, 2, 4], numResBlocks: [2, 2, 2],
  transformerDepth: [0, 0, 2, 2, 10, 10], transformerDepthOutput: [0, 0, 0, 2, 2, 2, 10, 10, 10], transformerDepthMiddle: 10,
  contextDim: 2048, admInChannels: 2816, timeEmbedDim: 1280, numHeadChannels: 64, useLinearInTransformer: true,
};

async function main(): Promise<void> {
  const work = process.argv[2] ?? '/tmp/gpu-bench';
  const providers = (process.argv[3] ?? 'webgpu,cpu').split(',');
  const latent = Number(process.env.LATENT ?? 128);
  mkdirSync(work, { recursive: true });
  const ckpt = join(work, 'sdxl-unet-random.safetensors');
  let t0 = performance.now();
  writeRandomSdxlCheckpoint(ckpt, SDXL_BASE_UNET);
  console.log(`random full-size SDXL UNet written: ${((performance.now() - t0) / 1000).toFixed(1)} s`);
  const file = openSafetensors(ckpt);
  const results: { provider: string; compute: string; createS: number; stepMs: number | null; error?: string }[] = [];
  for (const p of providers) {
    const compute = p === 'cpu' ? 'float32' : 'float16';
    t0 = performance.now();
    const built = buildUnetGraph({ weights: checkpointWeights(file), config: SDXL_BASE_UNET, compute });
    const saved = saveModel(built, join(work, `unet-${compute}`), 'model.onnx');
    console.log(`graph ${compute} built+saved in ${((performance.now() - t0) / 1000).toFixed(1)} s`);
    try {
      t0 = performance.now();
      const session = await ort.InferenceSession.create(saved.modelPath, {
        executionProviders: p === 'cpu' ? ['cpu'] : [p as 'webgpu'],
        graphOptimizationLevel: 'all',
        logSeverityLevel: 3,
      });
      const createS = (performance.now() - t0) / 1000;
      const h = latent;
      const feeds = {
        x: new ort.Tensor('float32', new Float32Array(2 * 4 * h * h).map(() => Math.random()), [2, 4, h, h]),
        timesteps: new ort.Tensor('float32', Float32Array.of(500, 500), [2]),
        context: new ort.Tensor('float32', new Float32Array(2 * 154 * 2048).map(() => Math.random() - 0.5), [2, 154, 2048]),
        y: new ort.Tensor('float32', new Float32Array(2 * 2816).map(() => Math.random() - 0.5), [2, 2816]),
      };
      await session.run(feeds); // warm-up
      const runs = p === 'cpu' ? 1 : 10;
      const times: number[] = [];
      for (let i = 0; i < runs; i++) {
        const s = performance.now();
        await session.run(feeds);
        times.push(performance.now() - s);
      }
      times.sort((a, b) => a - b);
      results.push({ provider: p, compute, createS, stepMs: times[Math.floor(times.length / 2)] });
      await session.release();
    } catch (e) {
      results.push({ provider: p, compute, createS: 0, stepMs: null, error: (e as Error).message.split('\n')[0] });
    }
    console.log(JSON.stringify(results[results.length - 1]));
  }
  const base = results.find((r) => r.provider === 'cpu' && r.stepMs !== null);
  console.log('\nfull-size SDXL UNet step, batch 2, latent', latent, '×', latent);
  for (const r of results) {
    const ratio = base && r.stepMs ? (r.stepMs / base.stepMs!).toFixed(3) : '-';
    console.log(`${r.provider.padEnd(7)} ${r.compute.padEnd(8)} session ${r.createS.toFixed(1)} s  step ${r.stepMs?.toFixed(1) ?? 'failed'} ms  ratio vs cpu ${ratio}${r.error ? `  error: ${r.error}` : ''}`);
  }
}

await main();
