/**
 * npm run bench:engine — engine timings on CPU, each printed as a ratio
 * against a baseline measured in the same run:
 *  - baseline: onnxruntime running the bare UNet graph (session.run alone,
 *    batch 2 = cond + uncond) — what any engine pays;
 *  - engine UNet step: one denoiser call of the real pipeline (input scaling,
 *    batching, Fooocus guidance with the sharpness filter) ÷ baseline;
 *  - full generation: engine.generate with 4 steps (text encoders, sampler,
 *    VAE decode, PNG) ÷ (4 × baseline).
 * Run on the tiny golden checkpoint and on a medium SDXL-shaped checkpoint
 * with random weights generated here (model_channels 320, reduced depth,
 * 32×32 latent by default; BENCH_MEDIUM_LATENT=64 for 512 px). Peak RSS is
 * reported, and how long the event loop stays blocked while a job runs on
 * the main thread versus in the engine's worker thread.
 *
 * LoRA rows (medium checkpoint, 1, 3 and 5 random rank-32 kohya LoRAs over
 * every transformer linear and text-encoder layer, the fifth with LoCon
 * convs), each a ratio against the plain load of the same checkpoint (a
 * fresh LoadedCheckpoint opening its four sessions from cached graphs):
 *  - merge: withLoras() on files already hashed — match, merge, write the shard;
 *  - first sessions: building the patched graphs and opening their sessions;
 *  - reload: the same set on a fresh checkpoint object (shard and graphs
 *    cached, as after an LRU eviction or a restart): its patched graphs'
 *    sessions only (UNet, CLIP-L, CLIP-G; the baseline opens those and the VAE).
 * BENCH_SECTIONS=tiny,medium,lora picks sections (default all).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { Engine } from '../services/engine/engine.ts';
import { EngineHost } from '../services/engine/engineHost.ts';
import { fooocusAdm } from '../services/engine/conditioning/admConditioning.ts';
import { discreteEpsSampling } from '../services/engine/diffusion/modelSampling.ts';
import { encodeWorkloads } from '../services/engine/pipeline/encodePrompt.ts';
import { createUnetDenoiser } from '../services/engine/pipeline/unetDenoiser.ts';
import type { UnetConfig } from '../services/engine/graphs/unetConfig.ts';
import { writeRandomSdxlCheckpoint } from './randomCheckpoint.ts';
import { writeRandomLora } from './randomLora.ts';
import { LoadedCheckpoint, type LoadOptions } from '../services/engine/runtime/loadedCheckpoint.ts';
import { resolveLoras } from '../services/engine/lora/mergeLoras.ts';

const shared = process.env.FOOOCUS_SHARED ?? resolve(import.meta.dirname, '../../shared');
const tiny = join(shared, 'golden/tiny-sdxl.safetensors');

interface Row { name: string; ms: number; ratio: number | null; note?: string }

async function timeIt(fn: () => Promise<unknown>, minRuns: number, minMs: number): Promise<number> {
  await fn(); // warm-up (session first-run allocation)
  const times: number[] = [];
  const start = performance.now();
  while (times.length < minRuns || performance.now() - start < minMs) {
    const t0 = performance.now();
    await fn();
    times.push(performance.now() - t0);
  }
  times.sort((a, b) => a - b);
  return times[Math.floor(times.length / 2)];
}

/** Longest gap between 1 ms timer ticks while `fn` runs: how long the event loop was blocked. */
async function maxEventLoopGap(fn: () => Promise<unknown>): Promise<number> {
  let last = performance.now();
  let maxGap = 0;
  const timer = setInterval(() => {
    const now = performance.now();
    maxGap = Math.max(maxGap, now - last);
    last = now;
  }, 1);
  await fn();
  clearInterval(timer);
  return Math.max(maxGap, performance.now() - last);
}

async function benchEventLoop(checkpoint: string, cacheDir: string): Promise<Row[]> {
  const job = {
    checkpoint, positive: ['a lighthouse at dusk'], negative: [], width: 256, height: 256, steps: 4,
    sampler: 'euler', scheduler: 'karras', cfg: 4, seeds: [3n], format: 'png' as const,
  };
  const engine = new Engine({ cacheDir });
  await engine.generate(job);
  const inline = await maxEventLoopGap(() => engine.generate(job));
  await engine.close();
  const host = new EngineHost({ cacheDir });
  await host.generate(job);
  const threaded = await maxEventLoopGap(() => host.generate(job));
  await host.close();
  return [
    { name: 'event loop: max blocked while generating on the main thread [baseline]', ms: inline, ratio: 1 },
    { name: 'event loop: max blocked while generating in the engine thread', ms: threaded, ratio: threaded / inline },
  ];
}

async function benchCheckpoint(label: string, checkpoint: string, latent: number, cacheDir: string, runs = 3): Promise<Row[]> {
  const engine = new Engine({ cacheDir });
  const model = await engine.load(checkpoint);
  const unetSession = await model.session('unet');
  const h = latent;
  const w = latent;
  const positive = await encodeWorkloads(model, ['a photograph of an astronaut riding a horse']);
  const negative = await encodeWorkloads(model, ['blurry']);
  const size = 4 * h * w;
  const x = new Float32Array(2 * size).map(() => Math.random() * 2 - 1);
  const ctx = new Float32Array(2 * positive.tokens * positive.width);
  ctx.set(positive.context, 0);
  ctx.set(negative.context, positive.context.length);
  const yPos = fooocusAdm(positive.pooled, h * 8, w * 8, 1.5).emphasized;
  const y = new Float32Array(2 * yPos.length);
  y.set(yPos, 0);
  y.set(fooocusAdm(negative.pooled, h * 8, w * 8, 0.8).emphasized, yPos.length);

  const ort = await import('onnxruntime-node');
  const feeds = {
    x: new ort.Tensor('float32', x, [2, 4, h, w]),
    timesteps: new ort.Tensor('float32', Float32Array.of(500, 500), [2]),
    context: new ort.Tensor('float32', ctx, [2, positive.tokens, positive.width]),
    y: new ort.Tensor('float32', y, [2, yPos.length]),
  };
  const bare = await timeIt(() => unetSession.run(feeds), runs, 1500);

  const ms = discreteEpsSampling();
  const denoise = createUnetDenoiser({
    model, modelSampling: ms, latentShape: [1, 4, h, w],
    positive: { text: positive, adm: fooocusAdm(positive.pooled, h * 8, w * 8, 1.5) },
    negative: { text: negative, adm: fooocusAdm(negative.pooled, h * 8, w * 8, 0.8) },
    cfg: 7.5, guidance: { kind: 'fooocus', sharpness: 2, adaptiveCfg: 7 }, admSwitchTimestep: 699.3,
  });
  const lat = Float64Array.from(x.subarray(0, size));
  const step = await timeIt(() => denoise(lat, 3.1), runs, 1500);

  const job = {
    checkpoint, positive: ['a photograph of an astronaut riding a horse'], negative: ['blurry'],
    width: w * 8, height: h * 8, steps: 4, sampler: 'dpmpp_2m_sde_gpu', scheduler: 'karras', cfg: 4, seeds: [1n], format: 'png' as const,
  };
  const full = await timeIt(() => engine.generate(job), Math.max(1, runs - 1), 1000);
  const rss = process.resourceUsage().maxRSS / 1024;
  await engine.close();
  return [
    { name: `${label}: bare ORT UNet run (batch 2, ${h}×${w} latent) [baseline]`, ms: bare, ratio: 1 },
    { name: `${label}: engine UNet step (denoiser incl. guidance + sharpness)`, ms: step, ratio: step / bare },
    { name: `${label}: full 4-step generation (text, sampler, VAE, PNG)`, ms: full, ratio: full / (4 * bare), note: `÷ (4 × baseline); peak RSS so far ${rss.toFixed(0)} MiB` },
  ];
}

async function benchLoras(label: string, checkpoint: string, dir: string): Promise<Row[]> {
  // One variant open at a time, so memory (and page-cache pressure) stays comparable across rows.
  const opts: LoadOptions = { cacheDir: join(dir, 'lora-cache'), compute: 'float32', session: { providers: ['cpu'] }, maxLoadedVariants: 1 };
  const prime = await LoadedCheckpoint.load(checkpoint, opts);
  await prime.warm(); // graphs built and cached: the baseline is a load, not a build
  await prime.close();
  let t = performance.now();
  const base = await LoadedCheckpoint.load(checkpoint, opts);
  await base.warm();
  const plain = performance.now() - t;
  const rows: Row[] = [{ name: `${label}: plain load (4 sessions from cached graphs) [LoRA baseline]`, ms: plain, ratio: 1 }];

  const files: string[] = [];
  for (let i = 0; i < 5; i++) {
    const path = join(dir, `random-lora-${i}.safetensors`);
    const modules = writeRandomLora(path, checkpoint, { rank: 32, seed: i + 1, convs: i === 4 });
    if (i === 0 || i === 4) process.stderr.write(`${path}: ${modules} modules\n`);
    files.push(path);
  }
  await resolveLoras(files.map((path) => ({ path, weight: 1 })), opts.cacheDir); // hash once, outside the timings
  try {
    for (const n of [1, 3, 5]) {
      const set = files.slice(0, n).map((path, i) => ({ path, weight: 0.4 + 0.1 * i }));
      t = performance.now();
      const variant = await base.withLoras(set);
      const merge = performance.now() - t;
      t = performance.now();
      await variant.warm();
      const first = performance.now() - t;
      const fresh = await LoadedCheckpoint.load(checkpoint, opts); // not warmed: only the variant's own sessions open below
      t = performance.now();
      const again = await fresh.withLoras(set);
      await again.warm();
      const reload = performance.now() - t;
      await fresh.close();
      const r = variant.lora!.report;
      const note = `${r.tensors} tensors, ${r.patched.unet}+${r.patched.clip} keys, peak RSS ${(process.resourceUsage().maxRSS / 1024).toFixed(0)} MiB`;
      rows.push({ name: `${label}: LoRA merge, ${n} LoRA${n > 1 ? 's' : ''} (match + merge + shard write)`, ms: merge, ratio: merge / plain, note });
      rows.push({ name: `${label}: LoRA first sessions, ${n} (build patched graphs + open)`, ms: first, ratio: first / plain });
      rows.push({ name: `${label}: LoRA reload, ${n} (cached shard + graphs, sessions only)`, ms: reload, ratio: reload / plain });
    }
  } finally {
    await base.close();
  }
  return rows;
}

async function main(): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'bench-engine-'));
  const sections = new Set((process.env.BENCH_SECTIONS ?? 'tiny,medium,lora').split(','));
  try {
    const rows: Row[] = [];
    if (sections.has('tiny')) {
      rows.push(...(await benchCheckpoint('tiny', tiny, 16, join(dir, 'cache'))));
      rows.push(...(await benchEventLoop(tiny, join(dir, 'cache'))));
    }

    const medium: UnetConfig = {
      inChannels: 4, outChannels: 4, modelChannels: 320, channelMult: [1, 2, 4], numResBlocks: [2, 2, 2],
      transformerDepth: [0, 0, 1, 1, 1, 1], transformerDepthOutput: [0, 0, 0, 1, 1, 1, 1, 1, 1], transformerDepthMiddle: 1,
      contextDim: 192, admInChannels: 1664, timeEmbedDim: 1280, numHeadChannels: 64, useLinearInTransformer: true,
    };
    const mediumPath = join(dir, 'medium-sdxl-random.safetensors');
    const t0 = performance.now();
    writeRandomSdxlCheckpoint(mediumPath, medium, tiny);
    process.stderr.write(`medium checkpoint written in ${((performance.now() - t0) / 1000).toFixed(1)} s\n`);
    if (sections.has('medium')) rows.push(...(await benchCheckpoint('medium', mediumPath, Number(process.env.BENCH_MEDIUM_LATENT ?? 32), join(dir, 'cache'), 1)));
    if (sections.has('lora')) rows.push(...(await benchLoras('medium', mediumPath, dir)));

    const nameWidth = Math.max(...rows.map((r) => r.name.length));
    console.log('engine benchmark (CPU, onnxruntime-node; ratios against the bare-UNet baseline of the same checkpoint)');
    for (const r of rows) {
      console.log(`${r.name.padEnd(nameWidth)}  ${r.ms.toFixed(1).padStart(9)} ms  ratio ${r.ratio?.toFixed(2) ?? '-'}${r.note ? `  ${r.note}` : ''}`);
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

await main();
