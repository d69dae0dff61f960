/**
 * Cheap step previews: the denoised latent mapped to RGB by a fixed linear
 * map (the SDXL latent→RGB factors ComfyUI uses for its "latent2rgb"
 * previewer), then a small JPEG. One preview costs microseconds, against a
 * VAE decode that costs as much as several UNet steps.
 */
import sharp from 'sharp';

const SDXL_FACTORS = [
  [0.3651, 0.4232, 0.4341],
  [-0.2533, -0.0042, 0.1068],
  [0.1076, 0.1111, -0.0362],
  [-0.3165, -0.2492, -0.2188],
];
const SDXL_BIAS = [0.1084, -0.0175, -0.0011];

/** `latent` is the model-space x0 estimate [1,4,h,w] (scaled by 0.13025). */
export async function latentPreviewJpeg(latent: ArrayLike<number>, h: number, w: number, quality = 70): Promise<Buffer> {
  const plane = h * w;
  const rgb = new Uint8Array(plane * 3);
  for (let p = 0; p < plane; p++) {
    for (let c = 0; c < 3; c++) {
      let v = SDXL_BIAS[c];
      for (let k = 0; k < 4; k++) v += latent[k * plane + p] * SDXL_FACTORS[k][c];
      const u = ((v + 1) / 2) * 255;
      rgb[p * 3 + c] = u <= 0 ? 0 : u >= 255 ? 255 : Math.round(u);
    }
  }
  // At most 512 px on the long side: previews travel base64 in SSE events every step.
  const scale = Math.min(8, 512 / Math.max(h, w));
  return sharp(Buffer.from(rgb.buffer), { raw: { width: w, height: h, channels: 3 } })
    .resize(Math.max(1, Math.round(w * scale)), Math.max(1, Math.round(h * scale)), { kernel: 'nearest' })
    .jpeg({ quality })
    .toBuffer();
}
