/**
 * Fooocus's IP-Adapter attention formulation (extras/ip_adapter.py
 * `patch_model`, "Midjourney's attention formulation of image prompt"),
 * the per-step half: from each image's raw projections (IpProjections, one
 * `To_KV` run per image and one for the negative tokens) to the UNet's
 * `ip_k.{n}` / `ip_v.{n}` inputs (graphs/unetIpAdapter.ts).
 *
 * For every image still active at this step (`1 − t/999 < stop`, Fooocus's
 * `current_step < cn_stop`), with C the layer's width and
 * w' = weight · C / 1280 (Fooocus's channel penalty, kept for every width):
 *   k_ip = to_k_ip(tokens) · w'
 *   v_ip = v − mean_tok(v) + mean_tok(v) · w',  v = to_v_ip(tokens)
 * The active images' k_ip (v_ip) are concatenated along the token axis
 * after the text keys: one softmax over text and images. Batch row r takes
 * the positive image tokens for a cond row and the negative ones
 * (`fooocus_ip_negative`) for an uncond row. No active image → null: the
 * plain UNet runs, exactly as Fooocus's patch falls through.
 */
import type { FloatTensor } from '../runtime/loadedCheckpoint.ts';

/** One image's per-layer projections, each [1, N, C_n] (raw `to_k_ip` / `to_v_ip` outputs). */
export interface IpProjections {
  k: FloatTensor[];
  v: FloatTensor[];
}

/** One image prompt as the UNet sees it. */
export interface IpAdapterImage {
  cond: IpProjections;
  /** Projections of the adapter's negative tokens (shared by every image of that adapter). */
  uncond: IpProjections;
  /** Fooocus `cn_weight`. */
  weight: number;
  /** Fooocus `cn_stop`: active while 1 − t/999 < stop. */
  stop: number;
}

/** The UNet's IP-Adapter inputs: per attn2 layer, [B, IPN, C_n]. */
export interface IpAdapterKv {
  k: FloatTensor[];
  v: FloatTensor[];
}

/** Fooocus's `channel_penalty` denominator. */
export const IP_CHANNEL_PENALTY_WIDTH = 1280;

/** Fooocus's progress value for a timestep: `1 − t/999` in float32 (patched_unet_forward's current_step). */
export function ipProgress(t: number): number {
  return Math.fround(1 - Math.fround(Math.fround(t) / 999));
}

export function isIpActive(image: Pick<IpAdapterImage, 'stop'>, t: number): boolean {
  return ipProgress(t) < image.stop;
}

/** k·w' and v − mean + mean·w' for one [1, N, C] projection pair, w' = weight·C/1280. */
export function weightIpKv(k: FloatTensor, v: FloatTensor, weight: number): { k: Float32Array; v: Float32Array } {
  const [n, c] = [k.dims[k.dims.length - 2], k.dims[k.dims.length - 1]];
  if (k.data.length !== n * c || v.data.length !== n * c) throw new RangeError(`IP-Adapter: expected batch-1 [1, ${n}, ${c}] projections`);
  const w = Math.fround(weight * (c / IP_CHANNEL_PENALTY_WIDTH));
  const outK = new Float32Array(n * c);
  for (let i = 0; i < outK.length; i++) outK[i] = k.data[i] * w;
  const outV = new Float32Array(n * c);
  for (let j = 0; j < c; j++) {
    let sum = 0;
    for (let i = 0; i < n; i++) sum += v.data[i * c + j];
    const mean = Math.fround(sum / n);
    for (let i = 0; i < n; i++) outV[i * c + j] = (v.data[i * c + j] - mean) + mean * w;
  }
  return { k: outK, v: outV };
}

/**
 * The UNet inputs for one model call at timestep `t` whose batch rows are
 * `rows` ('cond' / 'uncond', e.g. ['cond', 'uncond'] for Fooocus's batch of
 * 2); null when no image is active (run the plain UNet).
 */
export function ipAdapterUnetKv(images: readonly IpAdapterImage[], t: number, rows: readonly ('cond' | 'uncond')[]): IpAdapterKv | null {
  const active = images.filter((im) => isIpActive(im, t));
  if (active.length === 0) return null;
  const layers = active[0].cond.k.length;
  for (const im of active) {
    if (im.cond.k.length !== layers || im.uncond.k.length !== layers) throw new RangeError('IP-Adapter: images with different layer counts');
  }
  const k: FloatTensor[] = [];
  const v: FloatTensor[] = [];
  for (let n = 0; n < layers; n++) {
    const c = active[0].cond.k[n].dims.at(-1)!;
    const per = active.map((im) => ({
      cond: weightIpKv(im.cond.k[n], im.cond.v[n], im.weight),
      uncond: weightIpKv(im.uncond.k[n], im.uncond.v[n], im.weight),
    }));
    const tokens = per.reduce((s, p) => s + p.cond.k.length / c, 0);
    if (per.some((p) => p.uncond.k.length !== p.cond.k.length)) throw new RangeError('IP-Adapter: negative and image token counts differ');
    const kn = new Float32Array(rows.length * tokens * c);
    const vn = new Float32Array(rows.length * tokens * c);
    rows.forEach((row, r) => {
      let at = r * tokens * c;
      for (const p of per) {
        kn.set(p[row].k, at);
        vn.set(p[row].v, at);
        at += p[row].k.length;
      }
    });
    k.push({ data: kn, dims: [rows.length, tokens, c] });
    v.push({ data: vn, dims: [rows.length, tokens, c] });
  }
  return { k, v };
}
