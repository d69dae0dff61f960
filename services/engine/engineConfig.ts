/**
 * Engine settings. The engine is a library: the deployables parse their own
 * config and hand the engine this object.
 */
import type { ProviderName } from './runtime/executionProvider.ts';

export interface EngineConfig {
  /** Directory for built graphs and the content-hash index. Keep it on the models' filesystem (hard links). */
  cacheDir: string;
  /** Execution provider; default 'cpu'. */
  provider?: ProviderName;
  deviceId?: number;
  /** Threads per operator (0 = all cores). */
  intraOpThreads?: number;
  /** Checkpoints kept loaded (sessions) at once; default 1 (a full SDXL is ~10 GB fp32 on CPU). */
  maxLoadedCheckpoints?: number;
  /**
   * LoRA sets kept loaded (their own UNet/CLIP sessions) per checkpoint at once; default 2.
   * Each costs a UNet's weights again (SDXL: ~5 GB fp16 on GPU, ~10 GB float32 on CPU).
   */
  maxLoadedVariants?: number;
}
