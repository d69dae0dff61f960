import sharp from 'sharp';
import { describe, expect, it } from 'vitest';
import { encodeRgb8, type ImageFormat } from '../encodeImage.ts';
import { applyMetadataSetting, embedImageMetadata, readImageMetadata } from './embedImageMetadata.ts';
import { readExifTiff } from './exifTiff.ts';
import type { ImageMetadata } from './generationMetadata.ts';
import { readJpegMetadata, setJpegMetadata } from './jpegSegments.ts';
import { readPngChunks } from './pngTextChunks.ts';
import { buildXmpPacket } from './xmpPacket.ts';

const W = 24;
const H = 16;
const rgb = new Uint8Array(W * H * 3).map((_, i) => (i * 37) % 251);

const fooocus: ImageMetadata = {
  scheme: 'fooocus',
  parameters: '{"prompt": "caf\\u00e9 & <cat>", "seed": "6289709461860950326", "steps": 30}',
  software: 'Fooocus v2.5.5',
};
const a1111: ImageMetadata = {
  scheme: 'a1111',
  parameters: 'café au lait, 漢字 🎨\r\nNegative prompt: ugly\nSteps: 30, Sampler: DPM++ 2M SDE Karras, Raw prompt: "a & b <c>"',
  software: 'fooocus-cloud v0.1.0',
};

async function pixels(bytes: Uint8Array): Promise<Buffer> {
  return sharp(bytes).raw().toBuffer();
}

describe.each<[ImageFormat, object]>([
  ['png', {}],
  ['jpeg', {}],
  ['webp', {}],
  ['webp', { lossless: true }],
])('embedImageMetadata %s %o', (format, extra) => {
  const encode = async () =>
    extra && 'lossless' in extra
      ? new Uint8Array(await sharp(Buffer.from(rgb), { raw: { width: W, height: H, channels: 3 } }).webp({ lossless: true }).toBuffer())
      : new Uint8Array(await encodeRgb8(rgb, W, H, { format }));

  it.each([fooocus, a1111])('round-trips the $scheme scheme exactly and leaves the pixels alone', async (meta) => {
    const plain = await encode();
    const tagged = embedImageMetadata(plain, format, meta);
    const read = readImageMetadata(tagged)!;
    expect(read).toMatchObject({ format, parameters: meta.parameters, scheme: meta.scheme, source: format === 'png' ? 'png-text' : 'xmp' });
    if (format !== 'png') expect(read.software).toBe(meta.software);
    expect(await pixels(tagged)).toEqual(await pixels(plain));
    expect((await sharp(tagged).metadata()).width).toBe(W);
  });

  it('is seen by an independent reader (libvips via sharp) where the format defines it', async () => {
    const tagged = embedImageMetadata(await encode(), format, a1111);
    const info = await sharp(tagged).metadata();
    if (format === 'png') {
      expect(info.comments).toEqual([
        { keyword: 'parameters', text: a1111.parameters },
        { keyword: 'fooocus_scheme', text: 'a1111' },
      ]);
    } else {
      expect(info.xmp?.toString('utf8')).toBe(buildXmpPacket(a1111));
      const exif = readExifTiff(info.exif!.subarray(info.exif!.subarray(0, 6).toString('latin1') === 'Exif\0\0' ? 6 : 0));
      expect(exif).toMatchObject({ software: a1111.software, makerNote: 'a1111', exifUserComment: a1111.parameters });
    }
  });

  it('re-embedding replaces the previous metadata instead of adding a second copy', async () => {
    const twice = embedImageMetadata(embedImageMetadata(await encode(), format, a1111), format, fooocus);
    expect(readImageMetadata(twice)).toMatchObject({ parameters: fooocus.parameters, scheme: 'fooocus' });
    const count = (needle: string) => Buffer.from(twice).toString('latin1').split(needle).length - 1;
    expect(count(format === 'png' ? 'fooocus_scheme' : 'W5M0MpCehiHzreSzNTczkc9d')).toBe(1);
    expect(count('Negative prompt')).toBe(0);
  });
});

describe('Fooocus-compatible placement', () => {
  it('png: Latin-1 text in tEXt, anything else in uncompressed iTXt, both before IDAT', async () => {
    const png = embedImageMetadata(new Uint8Array(await encodeRgb8(rgb, W, H, { format: 'png' })), 'png', a1111);
    const types = readPngChunks(png).map((c) => c.type);
    expect(types.indexOf('iTXt')).toBeLessThan(types.indexOf('IDAT'));
    expect(types.filter((t) => t === 'iTXt' || t === 'tEXt')).toEqual(['iTXt', 'tEXt']); // parameters (non-Latin-1), fooocus_scheme
    const latin = embedImageMetadata(new Uint8Array(await encodeRgb8(rgb, W, H, { format: 'png' })), 'png', fooocus);
    expect(readPngChunks(latin).filter((c) => c.type === 'tEXt')).toHaveLength(2);
  });

  it('jpeg: IFD0 carries UserComment/MakerNote/Software as ASCII the way Pillow writes them (non-ASCII as ?)', async () => {
    const jpeg = embedImageMetadata(new Uint8Array(await encodeRgb8(rgb, W, H, { format: 'jpeg' })), 'jpeg', a1111);
    const exif = readExifTiff(readJpegMetadata(jpeg).exif!);
    expect(exif.userComment).toBe(a1111.parameters.replace(/[^\x00-\x7f]/gu, '?'));
    expect(exif.makerNote).toBe('a1111');
    expect(exif.software).toBe('fooocus-cloud v0.1.0');
    // Without XMP a reader falls back to the lossless Unicode EXIF copy.
    const noXmp = readImageMetadata(setJpegMetadata(jpeg, { exif: readJpegMetadata(jpeg).exif }))!;
    expect(noXmp).toMatchObject({ parameters: a1111.parameters, source: 'exif-unicode', scheme: 'a1111' });
  });

  it('jpeg: a parameters text too long for one segment drops blocks in order and reports each', async () => {
    const huge: ImageMetadata = { ...fooocus, parameters: `{"prompt": "${'x'.repeat(40_000)}"}` };
    const omitted: string[] = [];
    const jpeg = embedImageMetadata(new Uint8Array(await encodeRgb8(rgb, W, H, { format: 'jpeg' })), 'jpeg', huge, { onOmitted: (b) => omitted.push(b) });
    expect(omitted).toEqual(['exif-unicode']);
    expect(readImageMetadata(jpeg)).toMatchObject({ parameters: huge.parameters, source: 'xmp' });
    const giant: ImageMetadata = { ...fooocus, parameters: 'y'.repeat(70_000) };
    const omitted2: string[] = [];
    const jpeg2 = embedImageMetadata(new Uint8Array(await encodeRgb8(rgb, W, H, { format: 'jpeg' })), 'jpeg', giant, { onOmitted: (b) => omitted2.push(b) });
    expect(omitted2).toEqual(['exif-unicode', 'exif', 'xmp']);
    expect(readImageMetadata(jpeg2)).toMatchObject({ parameters: null, source: null });
    expect((await sharp(jpeg2).metadata()).width).toBe(W);
  });

  it('save_metadata_to_images=false leaves the encoded bytes untouched', async () => {
    const plain = new Uint8Array(await encodeRgb8(rgb, W, H, { format: 'webp' }));
    let built = 0;
    const meta = () => {
      built++;
      return fooocus;
    };
    expect(applyMetadataSetting(plain, 'webp', false, meta)).toBe(plain);
    expect(built).toBe(0);
    expect(readImageMetadata(applyMetadataSetting(plain, 'webp', true, meta))?.parameters).toBe(fooocus.parameters);
  });
});
