/**
 * SDXL-shaped checkpoints with random weights, for benchmarks: the UNet of a
 * chosen configuration (fp16, N(0, 1/fan_in) weights like the golden set's),
 * with the text encoders and VAE copied from a small base file when one is
 * given. FLOPs do not depend on the weights (pipeline.md §0 finding 5).
 */
import { openSafetensors } from '../services/engine/io/safetensors.ts';
import { floatToHalf } from '../services/engine/io/half.ts';
import { writeSafetensorsFile, type TensorToWrite } from '../services/engine/io/safetensorsWriter.ts';
import type { UnetConfig } from '../services/engine/graphs/unetConfig.ts';
import { unetLayout } from '../services/engine/graphs/unetLayout.ts';
import { unetWeightShapes } from '../services/engine/graphs/unetWeightManifest.ts';

/** xorshift-based normal source: fast and reproducible; quality is irrelevant for timing. */
function normalSource(seed: number): () => number {
  let s = seed >>> 0 || 1;
  const u = () => {
    s ^= s << 13; s >>>= 0;
    s ^= s >>> 17;
    s ^= s << 5; s >>>= 0;
    return (s + 0.5) / 4294967296;
  };
  return () => Math.sqrt(-2 * Math.log(u())) * Math.cos(2 * Math.PI * u());
}

function randomHalf(shape: number[], scale: number, rnd: () => number): Uint8Array {
  const n = shape.reduce((a, b) => a * b, 1);
  const h = new Uint16Array(n);
  // A 64k-entry table of random halves, reused with an offset: generating
  // 2.6 billion normals one by one would dominate a full-size build.
  const table = new Uint16Array(65536);
  for (let i = 0; i < table.length; i++) table[i] = floatToHalf(rnd() * scale);
  let off = Math.floor(rnd() * 1e6) & 0xffff;
  for (let i = 0; i < n; i++) h[i] = table[(i + off) & 0xffff];
  off++;
  return new Uint8Array(h.buffer);
}

function initScale(name: string, shape: number[]): number {
  if (name.endsWith('.bias')) return 0.05;
  if (shape.length === 1) return 0.1; // norm weights get 1 + N(0, 0.1²) below
  const fanIn = shape.slice(1).reduce((a, b) => a * b, 1);
  return 1 / Math.sqrt(fanIn);
}

export function writeRandomSdxlCheckpoint(path: string, unet: UnetConfig, base?: string, seed = 1): void {
  const rnd = normalSource(seed);
  const shapes = unetWeightShapes(unetLayout(unet));
  const tensors: TensorToWrite[] = [];
  for (const [key, shape] of shapes) {
    const name = `model.diffusion_model.${key}`;
    const isNormWeight = shape.length === 1 && /norm|\.in_layers\.0|\.out_layers\.0|out\.0|emb_layers/.test(key) && key.endsWith('.weight');
    tensors.push({
      name, dtype: 'F16', shape,
      bytes: () => {
        const b = randomHalf(shape, initScale(name, shape), rnd);
        if (isNormWeight) {
          const h = new Uint16Array(b.buffer);
          for (let i = 0; i < h.length; i++) h[i] = floatToHalf(1 + rnd() * 0.1);
        }
        return b;
      },
    });
  }
  if (base) {
    const f = openSafetensors(base);
    for (const [name, info] of f.tensors) {
      if (name.startsWith('model.diffusion_model.')) continue;
      tensors.push({ name, dtype: info.dtype, shape: info.shape, bytes: () => new Uint8Array(f.bytes(name)) });
    }
  }
  tensors.sort((a, b) => a.name.localeCompare(b.name));
  writeSafetensorsFile(path, tensors);
}
