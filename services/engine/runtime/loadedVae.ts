/**
 * A VAE from its own file, decoding (and encoding) in place of a
 * checkpoint's built-in one: Fooocus' `vae_name` (F modules/default_pipeline.py
 * `refresh_base_model(..., vae_name)` loads it over `first_stage_model`).
 *
 * Layouts: the standalone VAE files people download (`encoder.*`,
 * `decoder.*`, `quant_conv.*`, `post_quant_conv.*`, as sdxl_vae.safetensors)
 * and checkpoint-style `first_stage_model.*` keys, found by key, never by file
 * name. diffusers-format VAEs (`decoder.up_blocks.*`) are refused by name.
 *
 * A VAE must fit the latents it decodes, and a mismatch must fail as a typed
 * CheckpointError at load, not inside onnxruntime: its own shapes are checked
 * for consistency (vaeConfig.ts) and for SDXL's 4-channel latent at 1/8 scale,
 * and `assertFits` compares every tensor of the checkpoint's own VAE with
 * this file's (same element count; [C,C] vs [C,C,1,1] attention weights are
 * the same thing stored two ways).
 *
 * Graphs are cached by the VAE file's own content hash, like a checkpoint's,
 * so one VAE serves every checkpoint it is used with and never collides with
 * a checkpoint's built-in VAE graph.
 */
import type * as ort from 'onnxruntime-node';
import { CheckpointError } from '../io/engineErrors.ts';
import { openSafetensors, type SafetensorsFile } from '../io/safetensors.ts';
import { buildVaeDecoderGraph, VAE_DECODER_INPUT, VAE_DECODER_OUTPUT, VAE_PREFIX } from '../graphs/vaeDecoderGraph.ts';
import { buildVaeEncoderGraph, VAE_ENCODER_INPUT, VAE_ENCODER_OUTPUT } from '../graphs/vaeEncoderGraph.ts';
import { vaeConfigFromWeights, type VaeConfig } from '../graphs/vaeConfig.ts';
import { checkpointWeights, prefixedWeights, type WeightSource } from '../onnx/weightSource.ts';
import { cachedFileSha256 } from './contentHash.ts';
import { ensureGraph, graphDir } from './graphCache.ts';
import type { FloatTensor, LoadOptions } from './loadedCheckpoint.ts';
import { createSession, runFloat } from './onnxSession.ts';
import { SessionCache } from './sessionCache.ts';

/** SDXL latents: 4 channels at 1/8 of the image side. */
const SDXL_LATENT_CHANNELS = 4;
const SDXL_VAE_FACTOR = 8;

type VaeGraphName = 'vae_decoder' | 'vae_encoder';

export class LoadedVae {
  private sessions = new SessionCache<VaeGraphName>();
  private readonly fits = new Set<string>();

  private constructor(
    readonly path: string,
    readonly contentHash: string,
    /** '' (standalone) or `first_stage_model.`. */
    readonly prefix: string,
    readonly config: VaeConfig,
    private readonly file: SafetensorsFile,
    private readonly opts: LoadOptions,
  ) {}

  /** Opens and checks the file (CheckpointError when it is not a usable SDXL VAE); sessions open on first use. */
  static async load(path: string, opts: LoadOptions): Promise<LoadedVae> {
    const file = openSafetensors(path);
    try {
      const prefix = vaePrefixOf(file);
      const config = vaeConfigFromWeights(prefixedWeights(checkpointWeights(file), prefix));
      if (config.zChannels !== SDXL_LATENT_CHANNELS || config.embedDim !== SDXL_LATENT_CHANNELS) {
        throw new CheckpointError(path, 'bad_shape', `the VAE's latent has ${config.zChannels} channels; SDXL latents have ${SDXL_LATENT_CHANNELS} (a 16-channel VAE is SD3/Flux)`);
      }
      if (config.downFactor !== SDXL_VAE_FACTOR) {
        throw new CheckpointError(path, 'bad_shape', `the VAE scales by ${config.downFactor}; SDXL latents are 1/${SDXL_VAE_FACTOR} of the image`);
      }
      const contentHash = await cachedFileSha256(path, opts.cacheDir);
      return new LoadedVae(path, contentHash, prefix, config, file, opts);
    } catch (e) {
      file.close();
      throw e;
    }
  }

  /**
   * Throws CheckpointError unless every `first_stage_model.*` tensor of
   * `checkpoint` exists here with as many values. Remembered per checkpoint.
   */
  assertFits(checkpoint: string): void {
    if (this.fits.has(checkpoint)) return;
    const ref = openSafetensors(checkpoint);
    try {
      for (const t of ref.tensors.values()) {
        if (!t.name.startsWith(VAE_PREFIX)) continue;
        const key = this.prefix + t.name.slice(VAE_PREFIX.length);
        if (!this.file.has(key)) throw new CheckpointError(this.path, 'missing_tensor', `${key} is missing (the VAE of ${checkpoint} has it)`);
        const mine = this.file.info(key).shape;
        if (numel(mine) !== numel(t.shape)) {
          throw new CheckpointError(this.path, 'bad_shape', `${key} is [${mine}], the VAE of ${checkpoint} has [${t.shape}]`);
        }
      }
    } finally {
      ref.close();
    }
    this.fits.add(checkpoint);
  }

  async decode(z: FloatTensor): Promise<FloatTensor> {
    const out = await runFloat(await this.session('vae_decoder'), 'float32', { [VAE_DECODER_INPUT]: { type: 'float', ...z } });
    return out[VAE_DECODER_OUTPUT];
  }

  async encode(image: FloatTensor): Promise<FloatTensor> {
    const out = await runFloat(await this.session('vae_encoder'), 'float32', { [VAE_ENCODER_INPUT]: { type: 'float', ...image } });
    return out[VAE_ENCODER_OUTPUT];
  }

  async close(): Promise<void> {
    await this.sessions.releaseAll();
    this.file.close();
  }

  private session(graph: VaeGraphName): Promise<ort.InferenceSession> {
    return this.sessions.get(graph, (g) => this.openSession(g));
  }

  private async openSession(graph: VaeGraphName): Promise<ort.InferenceSession> {
    // Always float32: the SDXL VAE overflows fp16 (pipeline.md §1.12), as for a checkpoint's own VAE.
    const dir = graphDir(this.opts.cacheDir, this.contentHash, graph, 'float32');
    const weights: WeightSource = checkpointWeights(this.file);
    const build = graph === 'vae_decoder' ? buildVaeDecoderGraph : buildVaeEncoderGraph;
    const cached = ensureGraph(dir, () => build({ weights, prefix: this.prefix, config: this.config, compute: 'float32' }).model);
    return createSession(cached.modelPath, this.opts.session);
  }
}

/** '' for a standalone VAE, `first_stage_model.` for checkpoint-style keys; CheckpointError otherwise. */
function vaePrefixOf(file: SafetensorsFile): string {
  for (const prefix of ['', VAE_PREFIX]) if (file.has(`${prefix}decoder.conv_in.weight`)) return prefix;
  const keys = [...file.tensors.keys()];
  if (keys.some((k) => /^(vae\.)?(decoder\.up_blocks|encoder\.down_blocks)\./.test(k))) {
    throw new CheckpointError(file.path, 'unsupported_architecture', 'this is a diffusers-format VAE (decoder.up_blocks); use the single-file (ldm) layout');
  }
  throw new CheckpointError(file.path, 'missing_tensor', 'no decoder.conv_in.weight (nor first_stage_model.decoder.conv_in.weight): not a VAE');
}

const numel = (shape: readonly number[]) => shape.reduce((a, b) => a * b, 1);
