/**
 * The golden-features inpaint case files for the inpaint modules' tests
 * (golden-features README §5): tensors as images and masks, and cases.json's
 * `cases.inpaint` section. Test-only.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { openSafetensors, type SafetensorsFile } from '../../io/safetensors.ts';
import type { U8Image } from '../../image/resampleLanczos.ts';
import type { InpaintSection } from '../../golden/inpaintCases.ts';

export const FEATURES = '/work/shared/golden-features';

/** `cases.json → cases.inpaint`, typed as the golden runner reads it. */
export const inpaintSection = JSON.parse(readFileSync(join(FEATURES, 'cases.json'), 'utf8')).cases.inpaint as InpaintSection;

export function openCase(relative: string): SafetensorsFile {
  return openSafetensors(join(FEATURES, relative));
}

/** A U8 tensor [H, W] or [H, W, C] as an image. */
export function u8Image(file: SafetensorsFile, name: string): U8Image {
  const t = file.tensor(name);
  if (t.dtype !== 'U8') throw new Error(`${name} is ${t.dtype}`);
  const [height, width, channels = 1] = file.info(name).shape;
  return { data: Uint8Array.from(t.data as Uint8Array), width, height, channels };
}
