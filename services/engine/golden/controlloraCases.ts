/**
 * Golden `controllora` cases (golden-features README §10): Fooocus's
 * Control-LoRA PyraCanny path through the engine's own code — the hint
 * (controlnet/controlHint.ts), the ControlNet assembled on the base UNet and
 * run by `LoadedControlLora`, the UNet's control variant through
 * `LoadedCheckpoint.unet`, and the run through the pipeline's denoiser
 * (`createUnetDenoiser` with `controls`, Fooocus guidance and timed ADM).
 *
 * - `hint`: hint_u8 exact (PyraCanny is bit-exact vs OpenCV), hint01 and
 *   the ControlNet's NCHW hint;
 * - `weights`: the file's contents (low-rank module count, full overrides)
 *   and the assembled weights' overrides equal the file's tensors;
 * - `controlnet step0`: the 10 outputs (after softness, strength 1) of the
 *   recorded [uncond, cond] batch;
 * - `eps step0`: eps with control (strength 0.8) and without, on the
 *   recorded inputs;
 * - `run`: sigmas, activity per step (σ ≥ σ(stop)), per-step t, x, y,
 *   eps, denoised, x_final, image01 and image_u8.
 * Tolerances: `controlnet_outputs`, `unet_eps`, `run_latents`, `run_image01`,
 * `run_image_u8 / png`, from cases.json.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { admSwitchTimestep, fooocusAdm } from '../conditioning/admConditioning.ts';
import { pyraCannyHint } from '../controlnet/controlHint.ts';
import { readWeightFloat32 } from '../controlnet/controlLoraWeights.ts';
import { controlSigmaRange, isControlActive, LoadedControlLora, type ControlApplication } from '../controlnet/loadedControlLora.ts';
import { initialLatent } from '../diffusion/initialLatent.ts';
import { latentForVae } from '../diffusion/latentFormat.ts';
import { resolveSampler } from '../diffusion/samplers/index.ts';
import { fooocusSamplingSigmas } from '../diffusion/samplingSigmas.ts';
import { torchRandn } from '../diffusion/torchRandn.ts';
import { controlOutputScales } from '../graphs/controlNetGraph.ts';
import { tensorFloat32 } from '../lora/float16Arrays.ts';
import { openSafetensors } from '../io/safetensors.ts';
import { encodeWorkloads } from '../pipeline/encodePrompt.ts';
import { decodeLatent } from '../pipeline/textToImage.ts';
import { createUnetDenoiser, type EvalRecord } from '../pipeline/unetDenoiser.ts';
import type { FloatTensor } from '../runtime/loadedCheckpoint.ts';
import type { CaseRunner } from './caseRunner.ts';
import { DEFAULT_CLIP_SKIP, nchwToUnitNhwc, toleranceStartingWith, u8RuleStartingWith, type FooocusSettings } from './refinerCases.ts';

interface ControlloraSection {
  file: string;
  model_file: string;
  lowrank_modules: number;
  full_override_keys: string[];
  steps: number;
  cfg: number;
  seed: string;
  strength: number;
  start_percent: number;
  end_percent: number;
  end_sigma: number;
  control_active_per_step: boolean[];
  softness: number;
  positive: string;
  negative: string;
  canny: [number, number];
  latent_shape: [number, number, number, number];
  timesteps: number[];
  sampler: string;
  scheduler: string;
}

export const runControlloraCases: CaseRunner = async (set, c) => {
  const section = set.section<ControlloraSection>('controllora');
  const file = set.file(section.file);
  const settings = ((set.json as { fooocus_settings?: FooocusSettings }).fooocus_settings ?? {}) as FooocusSettings;
  const adm = { positive: settings.adm_scaler_positive ?? 1.5, negative: settings.adm_scaler_negative ?? 0.8, end: settings.adm_scaler_end ?? 0.3 };
  const switchT = admSwitchTimestep(adm.end);
  const tensor = (name: string): FloatTensor => ({ data: file.float32(name), dims: file.shape(name) });
  const [, , lh, lw] = section.latent_shape;
  const [height, width] = [lh * 8, lw * 8];
  const sourceShape = file.shape('source_u8');
  const source = { data: file.u8('source_u8'), height: sourceShape[0], width: sourceShape[1], channels: sourceShape[2] };
  const hint = pyraCannyHint(source, width, height, section.canny[0], section.canny[1]);
  const cacheDir = mkdtempSync(join(tmpdir(), 'fooocus-golden-controllora-'));
  const loading = (async () => LoadedControlLora.load(set.resolve(section.model_file), await set.baseCheckpoint(), { cacheDir, compute: 'float32', session: { providers: ['cpu'] } }))();
  loading.catch(() => undefined); // reported by the first case that awaits it
  try {
    await c.check('hint', (checks) => {
      checks.exact('hint_u8', hint.u8.data, file.u8('hint_u8'));
      checks.float('hint01', Float32Array.from(hint.u8.data, (v) => Math.fround(v / 255)), file.float32('hint01'), { atol: 0 });
      checks.float('control.step0.hint', hint.tensor.data, file.float32('control.step0.hint'), { atol: 0 });
    });

    await c.check('weights', async (checks) => {
      const net = await loading;
      checks.exact('lowrank_modules', [net.contents.lowRank.length], [section.lowrank_modules]);
      const model = openSafetensors(set.resolve(section.model_file));
      try {
        for (const key of section.full_override_keys) {
          if (!checks.require(key, net.contents.full.includes(key), `${key} is not a full tensor of the file`)) continue;
          checks.exact(`assembled ${key}`, readWeightFloat32(net.weights.ref(key)), tensorFloat32(model, key));
        }
      } finally {
        model.close();
      }
    });

    // The recorded ControlNet call: batch [uncond, cond], double-width y → the timed half.
    const t0 = file.float32('control.step0.timesteps');
    const yDouble = file.float32('control.step0.y_in');
    const admWidth = yDouble.length / 2 / 2;
    const timedY = (t: number, double: Float32Array, rows: number): Float32Array => {
      const out = new Float32Array(rows * admWidth);
      for (let r = 0; r < rows; r++) out.set(double.subarray(r * 2 * admWidth + (t > switchT ? 0 : admWidth), r * 2 * admWidth + (t > switchT ? admWidth : 2 * admWidth)), r * admWidth);
      return out;
    };
    const batch = {
      x: tensor('control.step0.x'),
      timesteps: t0,
      context: tensor('control.step0.context'),
      y: { data: timedY(t0[0], yDouble, 2), dims: [2, admWidth] },
    };
    await c.check('controlnet step0', async (checks) => {
      const net = await loading;
      checks.exact('cond_or_uncond', file.ints('control.step0.cond_or_uncond'), [1, 0]);
      const out = await net.residuals({ ...batch, hint: hint.tensor }, controlOutputScales(net.residualCount, section.softness, 1));
      checks.exact('outputs', [out.length], [10]);
      out.forEach((r, i) => checks.float(`control.step0.out${i}`, r.data, file.float32(`control.step0.out${i}`), set.tolerance('controlnet_outputs')));
    });

    await c.check('eps step0', async (checks) => {
      const net = await loading;
      const model = await set.baseCheckpoint();
      const epsTol = set.tolerance('unet_eps');
      const size = batch.x.data.length / 2;
      const residuals = await net.residuals({ ...batch, hint: hint.tensor }, controlOutputScales(net.residualCount, section.softness, section.strength));
      const withControl = await model.unet(batch.x, batch.timesteps, batch.context, batch.y, { control: residuals });
      checks.float('step0.uncond.eps', withControl.subarray(0, size), file.float32('step0.uncond.eps'), epsTol);
      checks.float('step0.cond.eps', withControl.subarray(size), file.float32('step0.cond.eps'), epsTol);
      const plain = await model.unet(batch.x, batch.timesteps, batch.context, batch.y);
      checks.float('step0.cond.eps_without_control', plain.subarray(size), file.float32('step0.cond.eps_without_control'), epsTol);
    });

    await c.check('run', async (checks) => {
      const net = await loading;
      const base = await set.baseCheckpoint();
      const latents = toleranceStartingWith(set, 'run_latents');
      const epsTol = set.tolerance('unet_eps');
      const textTol = set.tolerance('text_encoder_outputs');
      const clipSkip = settings.clip_skip ?? DEFAULT_CLIP_SKIP;
      const shape = section.latent_shape;
      const seed = BigInt(section.seed);
      const positive = await encodeWorkloads(base, [section.positive], { clipSkip });
      const negative = await encodeWorkloads(base, [section.negative], { clipSkip });
      for (const [side, cond] of [['pos', positive], ['neg', negative]] as const) {
        checks.float(`${side}.context`, cond.context, file.float32(`${side}.context`), textTol);
        checks.float(`${side}.pooled`, cond.pooled, file.float32(`${side}.pooled`), textTol);
      }
      const sampler = resolveSampler(section.sampler);
      const plan = fooocusSamplingSigmas({ scheduler: section.scheduler, steps: section.steps, sampler: sampler.name, denoise: 1 });
      checks.float('sigmas', plan.sigmas, file.float32('sigmas'), set.tolerance('sigmas'));
      const noise = Float64Array.from(torchRandn(shape, seed));
      checks.float('noise', noise, file.float32('noise'), set.tolerance('torch_randn'));
      const range = controlSigmaRange((t) => plan.modelSampling.sigma(t), section.start_percent, section.end_percent);
      checks.float('end_sigma', [range.sigmaLow], [section.end_sigma], set.tolerance('sigmas'));
      const active = Array.from(plan.sigmas.subarray(0, -1), (s) => isControlActive(range, s));
      checks.require('control_active_per_step', active.join() === section.control_active_per_step.join(), `active ${active.join()}`);

      const control: ControlApplication = { net, hint: hint.tensor, strength: section.strength, softness: section.softness, ...range };
      const posSide = { text: positive, adm: fooocusAdm(positive.pooled, height, width, adm.positive) };
      const negSide = { text: negative, adm: fooocusAdm(negative.pooled, height, width, adm.negative) };
      const evals: EvalRecord[] = [];
      const denoiser = createUnetDenoiser({
        model: base,
        modelSampling: plan.modelSampling,
        latentShape: shape,
        positive: posSide,
        negative: negSide,
        cfg: section.cfg,
        guidance: { kind: 'fooocus', sharpness: settings.sharpness ?? 2, adaptiveCfg: settings.adaptive_cfg ?? 7 },
        admSwitchTimestep: switchT,
        controls: [control],
        onEval: (r) => evals.push({ ...r, x: Float64Array.from(r.x), denoised: Float64Array.from(r.denoised), epsCond: r.epsCond.slice(), epsUncond: r.epsUncond?.slice() ?? null }),
      });
      const xInit = initialLatent({ noise, sigmas: plan.sigmas, modelSampling: plan.modelSampling });
      const xFinal = await sampler.run(denoiser, xInit, plan.sigmas, { model: plan.modelSampling });

      checks.require('steps', evals.length === section.steps, `${evals.length} evaluations, ${section.steps} steps`);
      const both = (a: Float32Array, b: Float32Array) => { const o = new Float32Array(a.length + b.length); o.set(a); o.set(b, a.length); return o; };
      for (let i = 0; i < Math.min(evals.length, section.steps); i++) {
        const s = `step${i}`;
        const e = evals[i];
        checks.exact(`${s}.t`, [e.t], [file.scalar(`${s}.t`)]);
        checks.float(`${s}.x`, e.x, file.float32(`${s}.x`), latents);
        checks.float(`${s}.cond.y_in`, both(posSide.adm.emphasized, posSide.adm.consistent), file.float32(`${s}.cond.y_in`), set.tolerance('adm_vectors'));
        checks.float(`${s}.uncond.y_in`, both(negSide.adm.emphasized, negSide.adm.consistent), file.float32(`${s}.uncond.y_in`), set.tolerance('adm_vectors'));
        checks.float(`${s}.cond.eps`, e.epsCond, file.float32(`${s}.cond.eps`), epsTol);
        if (e.epsUncond) checks.float(`${s}.uncond.eps`, e.epsUncond, file.float32(`${s}.uncond.eps`), epsTol);
        checks.float(`${s}.denoised`, e.denoised, file.float32(`${s}.denoised`), latents);
      }
      checks.float('x_final', xFinal, file.float32('x_final'), latents);
      const kind = plan.modelSampling.kind;
      const decoded = await base.decode({ data: Float32Array.from(latentForVae(xFinal, kind, shape)), dims: shape });
      checks.float('image01', nchwToUnitNhwc(decoded), file.float32('image01'), toleranceStartingWith(set, 'run_image01'));
      const rgb = await decodeLatent(base, xFinal, kind, shape);
      checks.u8('image_u8', rgb.rgb, file.u8('image_u8'), u8RuleStartingWith(set, 'run_image_u8'));
    });
  } finally {
    await (await loading.catch(() => null))?.close();
    rmSync(cacheDir, { recursive: true, force: true });
  }
};
