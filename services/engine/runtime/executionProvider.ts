/**
 * Which onnxruntime execution provider runs the graphs, chosen by
 * configuration. CPU exists everywhere; CUDA needs the provider libraries
 * that onnxruntime-node's install script would download (skipped here, put
 * into the worker image at build time); WebGPU is bundled but needs a
 * Vulkan-capable driver. 'auto' picks the first GPU provider that creates a
 * session and falls back to CPU, so a CPU-only pod still works.
 */
import * as ort from 'onnxruntime-node';

export type ProviderName = 'cpu' | 'cuda' | 'webgpu' | 'auto';

export interface ProviderChoice {
  /** The list handed to ORT. */
  providers: ort.InferenceSession.ExecutionProviderConfig[];
  /** Compute type the graphs should be built for. */
  compute: 'float32' | 'float16';
  name: Exclude<ProviderName, 'auto'>;
}

export function providerChoice(name: Exclude<ProviderName, 'auto'>, deviceId = 0): ProviderChoice {
  switch (name) {
    case 'cpu':
      return { name, providers: ['cpu'], compute: 'float32' };
    case 'cuda':
      return { name, providers: [{ name: 'cuda', deviceId }, 'cpu'], compute: 'float16' };
    case 'webgpu':
      return { name, providers: ['webgpu', 'cpu'], compute: 'float16' };
  }
}

/** Candidate order for 'auto'. */
export function autoCandidates(deviceId = 0): ProviderChoice[] {
  return [providerChoice('cuda', deviceId), providerChoice('webgpu', deviceId), providerChoice('cpu')];
}
