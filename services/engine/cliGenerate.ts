/**
 * `generate`: text-to-image from the command line, through the same Engine
 * the worker uses. Writes <out>/<seed>.<ext> per image and draws a progress
 * bar on stderr.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { Engine, MAX_SEED } from './engine.ts';
import type { ImageFormat } from './image/encodeImage.ts';
import type { ProviderName } from './runtime/executionProvider.ts';

export const GENERATE_USAGE = `usage: generate --checkpoint FILE --prompt TEXT [options]
  --negative TEXT        negative prompt (default "")
  --steps N              sampling steps (default 30)
  --width N --height N   image size, multiples of 8 (default 1024×1024)
  --sampler NAME         one of Fooocus' 24 samplers (default dpmpp_2m_sde_gpu)
  --scheduler NAME       one of Fooocus' 11 schedulers (default karras)
  --seed N               0..2^63-1 (default random); image i uses seed+i
  --cfg X                guidance scale (default 4)
  --sharpness X          Fooocus sharpness (default 2)
  --count N              number of images (default 1)
  --format png|jpeg|webp output format (default png)
  --out DIR              output directory (default ./outputs)
  --provider cpu|cuda|webgpu|auto   execution provider (default cpu)
  --cache-dir DIR        graph cache (default <checkpoint dir>/.onnx-cache)`;

function randomSeed(): bigint {
  const b = new BigUint64Array(1);
  crypto.getRandomValues(b);
  return b[0] & MAX_SEED;
}

function progressBar(done: number, total: number, label: string): string {
  const width = 30;
  const filled = Math.round((done / total) * width);
  return `\r[${'#'.repeat(filled)}${'.'.repeat(width - filled)}] ${String(Math.round((done / total) * 100)).padStart(3)}% ${label}`;
}

export async function runGenerate(argv: string[]): Promise<number> {
  const { values } = parseArgs({
    args: argv,
    options: {
      checkpoint: { type: 'string' }, prompt: { type: 'string' }, negative: { type: 'string', default: '' },
      steps: { type: 'string', default: '30' }, width: { type: 'string', default: '1024' }, height: { type: 'string', default: '1024' },
      sampler: { type: 'string', default: 'dpmpp_2m_sde_gpu' }, scheduler: { type: 'string', default: 'karras' },
      seed: { type: 'string' }, cfg: { type: 'string', default: '4' }, sharpness: { type: 'string', default: '2' },
      count: { type: 'string', default: '1' }, format: { type: 'string', default: 'png' }, out: { type: 'string', default: 'outputs' },
      provider: { type: 'string', default: 'cpu' }, 'cache-dir': { type: 'string' }, help: { type: 'boolean' },
    },
    strict: true,
  });
  if (values.help || !values.checkpoint || values.prompt === undefined) {
    process.stderr.write(`${GENERATE_USAGE}\n`);
    return values.help ? 0 : 2;
  }
  const format = values.format as ImageFormat;
  if (!['png', 'jpeg', 'webp'].includes(format)) throw new Error(`--format must be png, jpeg or webp, got ${values.format}`);
  const checkpoint = resolve(values.checkpoint);
  const seed = values.seed !== undefined ? BigInt(values.seed) : randomSeed();
  const count = Number(values.count);
  if (!Number.isInteger(count) || count < 1) throw new Error(`--count must be a positive integer, got ${values.count}`);
  const seeds = Array.from({ length: count }, (_, i) => (seed + BigInt(i)) % (MAX_SEED + 1n));
  const engine = new Engine({
    cacheDir: values['cache-dir'] ?? join(resolve(checkpoint, '..'), '.onnx-cache'),
    provider: values.provider as ProviderName,
  });
  try {
    const started = Date.now();
    const images = await engine.generate(
      {
        checkpoint,
        positive: [values.prompt],
        negative: values.negative ? [values.negative] : [],
        width: Number(values.width), height: Number(values.height), steps: Number(values.steps),
        sampler: values.sampler!, scheduler: values.scheduler!, cfg: Number(values.cfg), sharpness: Number(values.sharpness),
        seeds, format,
      },
      { onProgress: (p) => process.stderr.write(progressBar(p.percent, 100, `image ${p.imageIndex + 1}/${p.imageCount} step ${p.step}/${p.steps}`)) },
    );
    process.stderr.write('\n');
    mkdirSync(values.out!, { recursive: true });
    for (const img of images) {
      const file = join(values.out!, `${img.seed}.${format === 'jpeg' ? 'jpg' : format}`);
      writeFileSync(file, img.data);
      process.stdout.write(`${file}\n`);
    }
    process.stderr.write(`${images.length} image(s) in ${((Date.now() - started) / 1000).toFixed(1)} s\n`);
    return 0;
  } finally {
    await engine.close();
  }
}
