import sharp from 'sharp';
import { describe, expect, it } from 'vitest';
import { convertImage, parseImageAccept, sniffImageExt } from './imageConversion.ts';

describe('Accept → image format (FooocusAPI §1.1)', () => {
  it.each([
    ['image/png', 'png'],
    ['IMAGE/WEBP', 'webp'],
    ['image/jpeg', 'jpeg'],
    ['image/jpg', 'jpeg'],
    ['image/gif', 'png'],
    ['image/png; q=0.9', 'png'],
    ['image/png, */*', null],
    ['*/*', null],
    ['application/json', null],
    [undefined, null],
    ['text/html,application/xhtml+xml,image/webp', null],
  ])('%j → %j', (accept, ext) => {
    expect(parseImageAccept(accept, { unknownAs: 'png' })).toBe(ext);
  });

  it('outputs route: an unknown image/<x> means "serve as stored"', () => {
    expect(parseImageAccept('image/gif', { unknownAs: null })).toBeNull();
  });

  it('converts between png, jpeg and webp and passes same-format bytes through', async () => {
    const png = await sharp({ create: { width: 8, height: 8, channels: 3, background: '#f00' } }).png().toBuffer();
    for (const ext of ['png', 'jpeg', 'webp'] as const) {
      const out = await convertImage(png, ext);
      expect(sniffImageExt(out)).toBe(ext);
      expect((await sharp(out).metadata()).width).toBe(8);
    }
    expect((await convertImage(png, 'png')).equals(png)).toBe(true);
  });
});
