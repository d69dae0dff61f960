import { describe, expect, it } from 'vitest';
import { ValidationError } from '../errors.ts';
import { SDXL_ASPECT_RATIOS } from './fooocusConstants.ts';
import { DEFAULT_MAX_PIXELS, parseAspectRatio, resolveAspectRatio } from './aspectRatio.ts';

describe('aspect ratios', () => {
  it('parses all 26 Fooocus ratios in both spellings', () => {
    for (const r of SDXL_ASPECT_RATIOS) {
      const [w, h] = r.split('*').map(Number);
      expect(resolveAspectRatio(r)).toEqual({ width: w, height: h, label: `${w}×${h}` });
      expect(resolveAspectRatio(r.replace('*', '×')).label).toBe(`${w}×${h}`);
    }
  });

  it('returns null for other shapes', () => {
    for (const bad of ['', '1024', '1024x1024', '1024*', '*1024', '1024*1024*3', 'a*b', '1e3*1e3']) {
      expect(parseAspectRatio(bad), bad).toBeNull();
    }
  });

  it('enforces the pixel limit (default 2048×2048) and the minimum side', () => {
    expect(resolveAspectRatio('2048*2048').width).toBe(2048);
    expect(DEFAULT_MAX_PIXELS).toBe(2048 * 2048);
    expect(() => resolveAspectRatio('2048*2056')).toThrow(ValidationError);
    expect(() => resolveAspectRatio('1024*1024', { maxPixels: 1024 * 1023 })).toThrow(/over the limit/);
    expect(() => resolveAspectRatio('63*1024')).toThrow(/at least 64/);
    expect(resolveAspectRatio('32*32', { minSide: 8 }).width).toBe(32);
  });
});
