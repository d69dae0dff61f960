/**
 * k-diffusion's `get_ancestral_step`: split a step σ_from → σ_to into a
 * deterministic part down to σ_down and fresh noise of std σ_up, such that
 * σ_down² + σ_up² = σ_to². Shared by every ancestral sampler
 * (euler_ancestral, dpm_2_ancestral, dpmpp_2s_ancestral, dpmpp_sde), which
 * Fooocus all runs at eta = 1.
 */

export interface AncestralStep {
  sigmaDown: number;
  sigmaUp: number;
}

export function ancestralStep(sigmaFrom: number, sigmaTo: number, eta = 1): AncestralStep {
  if (!eta) return { sigmaDown: sigmaTo, sigmaUp: 0 };
  const sigmaUp = Math.min(
    sigmaTo,
    eta * Math.sqrt((sigmaTo * sigmaTo * (sigmaFrom * sigmaFrom - sigmaTo * sigmaTo)) / (sigmaFrom * sigmaFrom)),
  );
  const sigmaDown = Math.sqrt(sigmaTo * sigmaTo - sigmaUp * sigmaUp);
  return { sigmaDown, sigmaUp };
}
