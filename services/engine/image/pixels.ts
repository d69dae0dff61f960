/**
 * VAE output → 8-bit RGB, exactly as Fooocus: x = clamp((img + 1)/2, 0, 1),
 * u8 = clip(255·x, 0, 255) truncated (modules/core.py; golden README §2.7).
 * Input NCHW float for one image, output HWC RGB bytes.
 */
export function imageToRgb8(image: Float32Array, height: number, width: number, batchIndex = 0): Uint8Array {
  const plane = height * width;
  const base = batchIndex * 3 * plane;
  const out = new Uint8Array(plane * 3);
  const f = Math.fround;
  for (let p = 0; p < plane; p++) {
    for (let c = 0; c < 3; c++) {
      // float32 steps as torch: (x + 1) / 2, clamp, * 255, then truncation.
      let v = f(f(image[base + c * plane + p] + 1) / 2);
      v = v < 0 ? 0 : v > 1 ? 1 : v;
      const s = f(v * 255);
      out[p * 3 + c] = s >= 255 ? 255 : s <= 0 ? 0 : Math.trunc(s);
    }
  }
  return out;
}
