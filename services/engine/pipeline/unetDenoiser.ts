/**
 * The denoiser D(x, σ) the samplers call: UNet evaluation(s) for the
 * positive and negative conditioning, the model sampling's parameterisation
 * (eps / LCM / EDM), then Fooocus's guidance (sharpness filter + adaptive
 * CFG) or plain CFG.
 *
 * Batching follows ComfyUI (conds.py): cond and uncond run as one batch-2
 * call when their context lengths match, or when repeating the shorter
 * context to the least common multiple costs at most 4× (repetition is exact
 * for softmax attention); otherwise as two batch-1 calls. cfg = 1 skips the
 * negative entirely.
 */
import type { AdmPair } from '../conditioning/admConditioning.ts';
import { controlResiduals, type ControlApplication } from '../controlnet/loadedControlLora.ts';
import type { FreeuParams } from '../graphs/freeu.ts';
import { denoisedFromEps, scaleUnetInput } from '../diffusion/modelSampling.ts';
import { cfgDenoised, needsUncond } from '../diffusion/guidance/cfg.ts';
import { fooocusGuidance } from '../diffusion/guidance/fooocusGuidance.ts';
import type { Denoiser, Latent, ModelSampling } from '../diffusion/types.ts';
import { ipAdapterUnetKv, type IpAdapterImage } from '../ipadapter/ipAdapterAttention.ts';
import type { FloatTensor, LoadedCheckpoint } from '../runtime/loadedCheckpoint.ts';
import type { TextConditioning } from './encodePrompt.ts';

export interface SideConditioning {
  text: Pick<TextConditioning, 'context' | 'tokens' | 'width'>;
  adm: AdmPair;
}

export type Guidance = { kind: 'plain' } | { kind: 'fooocus'; sharpness: number; adaptiveCfg: number };

export interface EvalRecord {
  x: Latent;
  sigma: number;
  t: number;
  epsCond: Float32Array;
  epsUncond: Float32Array | null;
  denoised: Latent;
}

export interface UnetDenoiserOptions {
  model: LoadedCheckpoint;
  modelSampling: ModelSampling;
  /** [1, C, h, w] of the latent. */
  latentShape: readonly [number, number, number, number];
  positive: SideConditioning;
  negative: SideConditioning;
  cfg: number;
  guidance: Guidance;
  /** The emphasized ADM is used while t > this (Fooocus: 999·(1 − adm_scaler_end)). */
  admSwitchTimestep: number;
  /** FreeU_V2 parameters: the UNet runs its FreeU variant (LoadedCheckpoint.unet). Default none. */
  freeu?: FreeuParams;
  /** Fooocus inpaint-head feature [1, model_channels, h, w]: the UNet runs its inpaint variant. Default none. */
  inpaintFeature?: FloatTensor;
  /**
   * Image prompts (IP-Adapter, ipadapter/ipAdapterAttention.ts): while any is
   * active at the step's t, the UNet runs its IP-Adapter variant with cond
   * rows on the image tokens and uncond rows on the negative ones. Default none.
   */
  imagePrompts?: readonly IpAdapterImage[];
  /**
   * ControlNets (controlnet/loadedControlLora.ts): while any is active at the
   * step's σ, each runs on the UNet's own batch and the UNet runs its
   * control variant with the summed residuals; other steps run without.
   * Default none.
   */
  controls?: readonly ControlApplication[];
  /** Override σ → UNet timestep (golden runs with interpolated t). */
  timestepOf?: (sigma: number) => number;
  onEval?: (r: EvalRecord) => void;
}

const gcd = (a: number, b: number): number => (b === 0 ? a : gcd(b, a % b));

/** Context of `tokens` rows repeated to `target` rows (target a multiple of tokens). */
function repeatContext(c: SideConditioning['text'], target: number): Float32Array {
  if (c.tokens === target) return c.context;
  const out = new Float32Array(target * c.width);
  for (let r = 0; r < target / c.tokens; r++) out.set(c.context, r * c.context.length);
  return out;
}

export function createUnetDenoiser(o: UnetDenoiserOptions): Denoiser {
  const [, ch, h, w] = o.latentShape;
  const size = ch * h * w;
  const kind = o.modelSampling.kind;
  const useUncond = needsUncond(o.cfg);
  const pos = o.positive.text;
  const neg = o.negative.text;
  const lcm = (pos.tokens * neg.tokens) / gcd(pos.tokens, neg.tokens);
  const batchable = useUncond && lcm / Math.min(pos.tokens, neg.tokens) <= 4;
  const batchedContext = batchable
    ? (() => {
        const c = new Float32Array(2 * lcm * pos.width);
        c.set(repeatContext(pos, lcm), 0);
        c.set(repeatContext(neg, lcm), lcm * pos.width);
        return c;
      })()
    : null;

  return async (x, sigma) => {
    const t = o.timestepOf ? o.timestepOf(sigma) : o.modelSampling.timestep(sigma);
    const xin = Float32Array.from(scaleUnetInput(kind, x, sigma));
    const emphasized = t > o.admSwitchTimestep;
    const yPos = emphasized ? o.positive.adm.emphasized : o.positive.adm.consistent;
    const yNeg = emphasized ? o.negative.adm.emphasized : o.negative.adm.consistent;
    const ip = (rows: ('cond' | 'uncond')[]) => (o.imagePrompts?.length ? ipAdapterUnetKv(o.imagePrompts, t, rows) : null);
    const unetOpts = (rows: ('cond' | 'uncond')[]) => ({ freeu: o.freeu, inpaintFeature: o.inpaintFeature, ipAdapter: ip(rows) });
    const unet = async (...[x, ts, context, y, opts]: Parameters<LoadedCheckpoint['unet']>) => {
      const control = o.controls?.length ? await controlResiduals(o.controls, sigma, { x, timesteps: ts, context, y }) : null;
      return o.model.unet(x, ts, context, y, control ? { ...opts, control } : opts);
    };
    let epsCond: Float32Array;
    let epsUncond: Float32Array | null = null;
    if (!useUncond) {
      epsCond = await unet({ data: xin, dims: [1, ch, h, w] }, Float32Array.of(t),
        { data: pos.context, dims: [1, pos.tokens, pos.width] }, { data: yPos, dims: [1, yPos.length] }, unetOpts(['cond']));
    } else if (batchedContext) {
      const x2 = new Float32Array(2 * size);
      x2.set(xin, 0);
      x2.set(xin, size);
      const y2 = new Float32Array(yPos.length * 2);
      y2.set(yPos, 0);
      y2.set(yNeg, yPos.length);
      const eps = await unet({ data: x2, dims: [2, ch, h, w] }, Float32Array.of(t, t),
        { data: batchedContext, dims: [2, lcm, pos.width] }, { data: y2, dims: [2, yPos.length] }, unetOpts(['cond', 'uncond']));
      epsCond = eps.subarray(0, size);
      epsUncond = eps.subarray(size, 2 * size);
    } else {
      epsCond = await unet({ data: xin, dims: [1, ch, h, w] }, Float32Array.of(t),
        { data: pos.context, dims: [1, pos.tokens, pos.width] }, { data: yPos, dims: [1, yPos.length] }, unetOpts(['cond']));
      epsUncond = await unet({ data: xin, dims: [1, ch, h, w] }, Float32Array.of(t),
        { data: neg.context, dims: [1, neg.tokens, neg.width] }, { data: yNeg, dims: [1, yNeg.length] }, unetOpts(['uncond']));
    }
    const posX0 = denoisedFromEps(kind, x, epsCond, sigma, t);
    const negX0 = epsUncond ? denoisedFromEps(kind, x, epsUncond, sigma, t) : null;
    const denoised =
      o.guidance.kind === 'fooocus'
        ? fooocusGuidance({ x, shape: [1, ch, h, w], timestep: t, posX0, negX0, cfg: o.cfg, sharpness: o.guidance.sharpness, adaptiveCfg: o.guidance.adaptiveCfg })
        : cfgDenoised(posX0, negX0, o.cfg);
    o.onEval?.({ x, sigma, t, epsCond, epsUncond, denoised });
    return denoised;
  };
}
