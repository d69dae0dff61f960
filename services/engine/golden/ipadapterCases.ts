/**
 * Golden `ipadapter` cases (golden-features README §9): Fooocus's IP-Adapter
 * Plus path through the engine's own code — `LoadedIpAdapter` on the set's
 * three files (the adapter a torch zip pickle), CPU float32 graphs — and the
 * base UNet's IP-Adapter variant through `LoadedCheckpoint.unet`.
 *
 * - `config`: the configs inferred from the files against
 *   `clip_vision_config`, `resampler` and `to_kv_channels`, and the UNet's
 *   attn2 order against `attn2_layout`;
 * - `preprocess`: HWC3 + resize mode 0 + normalisation of `image_u8`
 *   (`image224_u8` exact, `pixel_values`);
 * - `clip_vision`: penultimate state and image_embeds of the stored pixels;
 * - `resampler`: tokens of the stored penultimate state;
 * - `ip_kv`: every stored `ip_cond.{j}` / `ip_uncond.{j}` (To_KV index j:
 *   layer ⌊j/2⌋, k for even j, v for odd) from the stored tokens and the
 *   negative file; plus the whole chain from `image_u8` to tokens;
 * - one case per `cases[]`: eps of the batch [cond, uncond] with the image
 *   prompt from `image_u8`, active or not by Fooocus's rule (which must agree
 *   with the case's `active`); an inactive case must also equal the plain
 *   UNet at its timestep exactly (verification/ipadapter.json `vs_plain` 0);
 * - `plain`: the stored `plain.*`, the IP-free eps. The README does not give
 *   its timestep; the set's generator records one plain eps per case and
 *   keeps the last (it matches the plain UNet at the last case's t to 5e-6,
 *   and is 0.4–0.6 away at every other), so it is checked at that t.
 * Tolerances: `ipadapter_clip_vision / resampler / ip_k_v` and `ipadapter_eps`.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { buildClipVisionGraph, CLIP_VISION_IO } from '../graphs/clipVisionGraph.ts';
import { ipAttn2Layers } from '../graphs/unetIpAdapter.ts';
import { unetLayout } from '../graphs/unetLayout.ts';
import { openSafetensors } from '../io/safetensors.ts';
import { clipVisionPixels } from '../ipadapter/clipVisionPixels.ts';
import { ipAdapterUnetKv, isIpActive, type IpProjections } from '../ipadapter/ipAdapterAttention.ts';
import { LoadedIpAdapter } from '../ipadapter/loadedIpAdapter.ts';
import { checkpointWeights } from '../onnx/weightSource.ts';
import { ensureGraph } from '../runtime/graphCache.ts';
import { createSession, runFloat } from '../runtime/onnxSession.ts';
import type { CaseRunner } from './caseRunner.ts';

interface IpadapterSection {
  file: string;
  clip_vision: string;
  ip_adapter: string;
  ip_negative: string;
  clip_vision_config: { image_size: number; patch_size: number; hidden_size: number; layers: number; heads: number; intermediate_size: number; projection_dim: number; hidden_act: string };
  resampler: { dim: number; depth: number; dim_head: number; heads: number; num_queries: number; embedding_dim: number; output_dim: number; ff_mult: number };
  attn2_layout: { block: 'input' | 'output' | 'middle'; id: number; depth: number; channels: number }[];
  to_kv_channels: number[];
  image_hw: [number, number];
  cases: { name: string; weight: number; stop: number; t: number; active: boolean }[];
}

const KV_NAME = /^ip_(cond|uncond)\.(\d+)$/;

export const runIpadapterCases: CaseRunner = async (set, c) => {
  const section = set.section<IpadapterSection>('ipadapter');
  const file = set.file(section.file);
  const tol = set.tolerance('ipadapter_clip_vision / resampler / ip_k_v');
  const epsTol = set.tolerance('ipadapter_eps');
  const tensor = (name: string) => ({ data: file.float32(name), dims: file.shape(name) });
  const cacheDir = mkdtempSync(join(tmpdir(), 'fooocus-golden-ipadapter-'));
  const loading = LoadedIpAdapter.load(
    { clipVision: set.resolve(section.clip_vision), ipAdapter: set.resolve(section.ip_adapter), negative: set.resolve(section.ip_negative) },
    { cacheDir, compute: 'float32', session: { providers: ['cpu'] } },
  );
  loading.catch(() => undefined); // reported by the first case that awaits it
  const [h, w] = section.image_hw;
  const inputImage = { data: file.u8('image_u8'), width: w, height: h, channels: 3 };
  try {
    await c.check('config', async (checks) => {
      const ip = await loading;
      const cv = ip.clipVisionConfig;
      const want = section.clip_vision_config;
      checks.exact('clip_vision_config', [cv.imageSize, cv.patchSize, cv.width, cv.layers, cv.heads, cv.mlpWidth, cv.projectionDim ?? -1],
        [want.image_size, want.patch_size, want.hidden_size, want.layers, want.heads, want.intermediate_size, want.projection_dim]);
      checks.require('clip_vision activation', cv.activation === want.hidden_act, `${cv.activation}, expected ${want.hidden_act}`);
      const r = ip.resamplerConfig;
      const wr = section.resampler;
      checks.exact('resampler', [r.dim, r.depth, r.headDim, r.heads, r.numQueries, r.embeddingDim, r.outputDim, r.ffMult],
        [wr.dim, wr.depth, wr.dim_head, wr.heads, wr.num_queries, wr.embedding_dim, wr.output_dim, wr.ff_mult]);
      checks.exact('to_kv_channels', ip.kvConfig.layers.flatMap((l) => [l.channels, l.channels]), section.to_kv_channels);
      const model = await set.baseCheckpoint();
      const layers = ipAttn2Layers(unetLayout(model.inspection.unet));
      const blocks: { block: string; id: number; depth: number; channels: number }[] = [];
      for (const l of layers) {
        const last = blocks.at(-1);
        if (last && last.block === l.where.block && last.id === l.where.id) last.depth++;
        else blocks.push({ block: l.where.block, id: l.where.id, depth: 1, channels: l.channels });
      }
      checks.require('attn2_layout', JSON.stringify(blocks) === JSON.stringify(section.attn2_layout.map(({ block, id, depth, channels }) => ({ block, id, depth, channels }))),
        `UNet attn2 order ${JSON.stringify(blocks)}`);
    });

    await c.check('preprocess', async (checks) => {
      const ip = await loading;
      const prepared = clipVisionPixels(inputImage, ip.clipVisionConfig.imageSize);
      checks.exact('image224_u8', prepared.image.data, file.u8('image224_u8'));
      checks.float('pixel_values', prepared.pixels.data, file.float32('pixel_values'), tol);
    });

    await c.check('clip_vision', async (checks) => {
      const ip = await loading;
      checks.float('clip_vision.penultimate', (await ip.clipVision(tensor('pixel_values'))).data, file.float32('clip_vision.penultimate'), tol);
      if (file.has('clip_vision.image_embeds')) {
        checks.float('clip_vision.image_embeds', await imageEmbeds(set.resolve(section.clip_vision), cacheDir, tensor('pixel_values')), file.float32('clip_vision.image_embeds'), tol);
      }
    });

    await c.check('resampler', async (checks) => {
      const ip = await loading;
      checks.float('resampler.tokens', (await ip.resample(tensor('clip_vision.penultimate'))).data, file.float32('resampler.tokens'), tol);
    });

    let encoded: IpProjections | undefined;
    await c.check('ip_kv', async (checks) => {
      const ip = await loading;
      const cond = await ip.project(tensor('resampler.tokens'));
      const uncond = await ip.negative();
      let compared = 0;
      for (const name of file.names()) {
        const m = KV_NAME.exec(name);
        if (!m) continue;
        const j = Number(m[2]);
        const p = m[1] === 'cond' ? cond : uncond;
        const got = j % 2 === 0 ? p.k[j >> 1] : p.v[j >> 1];
        checks.float(name, got.data, file.float32(name), tol);
        compared++;
      }
      checks.require('ip_cond/ip_uncond present', compared > 0, 'the case file stores no ip_cond.* / ip_uncond.*');
      // The whole chain from the 8-bit image, as the engine runs an image prompt.
      const chain = await ip.encode(inputImage);
      checks.float('encode(image_u8).tokens', chain.tokens.data, file.float32('resampler.tokens'), tol);
      encoded = chain.cond;
    });

    const model = await set.baseCheckpoint();
    const x1 = tensor('unet.x');
    const y1 = tensor('unet.y');
    const ctxCond = tensor('unet.context_cond');
    const ctxUncond = tensor('unet.context_uncond');
    const x = { data: concat(x1.data, x1.data), dims: [2, ...x1.dims.slice(1)] };
    const y = { data: concat(y1.data, y1.data), dims: [2, ...y1.dims.slice(1)] };
    const context = { data: concat(ctxCond.data, ctxUncond.data), dims: [2, ...ctxCond.dims.slice(1)] };
    const size = x1.data.length;
    const eps = async (t: number, ip?: Parameters<typeof ipAdapterUnetKv>[0]) => {
      const kv = ip ? ipAdapterUnetKv(ip, t, ['cond', 'uncond']) : null;
      const out = await model.unet(x, Float32Array.of(t, t), context, y, { ipAdapter: kv });
      return { both: out, cond: out.subarray(0, size), uncond: out.subarray(size, 2 * size) };
    };
    const lastCase = section.cases.at(-1);
    if (lastCase && file.has('plain.eps_cond')) {
      await c.check('plain', async (checks) => {
        const out = await eps(lastCase.t);
        checks.float('plain.eps_cond', out.cond, file.float32('plain.eps_cond'), epsTol);
        checks.float('plain.eps_uncond', out.uncond, file.float32('plain.eps_uncond'), epsTol);
      });
    }
    for (const k of section.cases) {
      await c.check(k.name, async (checks) => {
        const ip = await loading;
        if (!encoded) throw new Error('ip_kv failed: no image projections');
        const image = { cond: encoded, uncond: await ip.negative(), weight: k.weight, stop: k.stop };
        checks.require('active', isIpActive(image, k.t) === k.active, `1 − t/999 < stop is ${!k.active} at t=${k.t}, stop ${k.stop}`);
        const out = await eps(k.t, [image]);
        checks.float(`${k.name}.eps_cond`, out.cond, file.float32(`${k.name}.eps_cond`), epsTol);
        checks.float(`${k.name}.eps_uncond`, out.uncond, file.float32(`${k.name}.eps_uncond`), epsTol);
        if (!k.active) {
          const plain = await eps(k.t);
          checks.exact('= plain UNet eps', out.both, plain.both);
        }
      });
    }
  } finally {
    await (await loading.catch(() => null))?.close();
    rmSync(cacheDir, { recursive: true, force: true });
  }
};

function concat(a: Float32Array, b: Float32Array): Float32Array {
  const out = new Float32Array(a.length + b.length);
  out.set(a, 0);
  out.set(b, a.length);
  return out;
}

/** `image_embeds` through the tower graph built with its last layer and projection (the engine's Plus path never needs it). */
async function imageEmbeds(path: string, cacheDir: string, pixels: { data: Float32Array; dims: number[] }): Promise<Float32Array> {
  const f = openSafetensors(path);
  try {
    const cached = ensureGraph(join(cacheDir, 'clip_vision_embeds'), () => buildClipVisionGraph({ weights: checkpointWeights(f), imageEmbeds: true }).model);
    const session = await createSession(cached.modelPath, { providers: ['cpu'] });
    try {
      return (await runFloat(session, 'float32', { [CLIP_VISION_IO.pixels]: { type: 'float', ...pixels } }))[CLIP_VISION_IO.imageEmbeds].data;
    } finally {
      await session.release();
    }
  } finally {
    f.close();
  }
}
