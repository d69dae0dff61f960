// Input images end to end on the real file-system BlobStore and real HTTP servers on
// loopback: decode (base64/URL), validate and normalise with sharp, store by content hash,
// and the job-wide pass that leaves no base64 in req_params (reliability.md fault case 14).
import { createHash } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { crc32, deflateSync } from 'node:zlib';
import sharp from 'sharp';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { ValidationError } from '../../core/errors.ts';
import type { BlobStore } from '../../core/ports.ts';
import { parseCommonRequest } from '../../core/request/commonRequest.ts';
import { normaliseRequest } from '../../core/request/normaliseRequest.ts';
import { createFsBlobStore } from '../../infra/fs/createFsBlobStore.ts';
import { decodeImageInput, InputImageError, resolveJobImages, storeInputImage } from './inputImages.ts';
import { createUrlFetcher } from './urlFetch/index.ts';

const MB = 1024 * 1024;
const limits = { maxBytes: 5 * MB, maxPixels: 4096 * 4096 };

let dir: string;
let blobs: BlobStore & { puts: string[] };
let server: http.Server;
let base: string;
const routes = new Map<string, { type: string; body: Buffer }>();

beforeAll(async () => {
  server = http.createServer((req, res) => {
    const r = routes.get(req.url ?? '');
    if (!r) return res.writeHead(404).end();
    res.writeHead(200, { 'content-type': r.type }).end(r.body);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
afterAll(async () => {
  await new Promise((r) => server.close(r));
});
beforeEach(() => {
  if (dir) rmSync(dir, { recursive: true, force: true });
  dir = mkdtempSync(join(tmpdir(), 'fooocus-inputs-'));
  const fs = createFsBlobStore(dir);
  const puts: string[] = [];
  blobs = {
    ...fs,
    puts,
    put: async (key, body, type) => {
      puts.push(key);
      await fs.put(key, body, type);
    },
  };
});

const png = (w = 8, h = 6, background = { r: 200, g: 10, b: 10 }) =>
  sharp({ create: { width: w, height: h, channels: 3, background } }).png().toBuffer();

async function inputError(promise: Promise<unknown>): Promise<InputImageError> {
  try {
    await promise;
  } catch (err) {
    expect(err).toBeInstanceOf(InputImageError);
    expect(err).toBeInstanceOf(ValidationError);
    return err as InputImageError;
  }
  throw new Error('expected an InputImageError');
}

/** A PNG whose IHDR declares width×height of 8-bit grey, with real (all-zero) pixel data. */
function greyPngBomb(width: number, height: number): Buffer {
  const chunk = (type: string, data: Buffer) => {
    const len = Buffer.alloc(4);
    len.writeUInt32BE(data.length);
    const td = Buffer.concat([Buffer.from(type, 'latin1'), data]);
    const crc = Buffer.alloc(4);
    crc.writeUInt32BE(crc32(td));
    return Buffer.concat([len, td, crc]);
  };
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(width, 0);
  ihdr.writeUInt32BE(height, 4);
  ihdr[8] = 8; // bit depth
  ihdr[9] = 0; // greyscale
  const idat = deflateSync(Buffer.alloc((width + 1) * height), { level: 9 });
  return Buffer.concat([Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]), chunk('IHDR', ihdr), chunk('IDAT', idat), chunk('IEND', Buffer.alloc(0))]);
}

describe('decodeImageInput', () => {
  it('decodes base64 with or without a data: prefix, and the URL-safe alphabet', async () => {
    const bytes = await png();
    const fetcher = createUrlFetcher();
    const plain = await decodeImageInput(bytes.toString('base64'), { fetcher, maxBytes: MB });
    const dataUrl = await decodeImageInput(`data:image/png;base64,${bytes.toString('base64')}`, { fetcher, maxBytes: MB });
    const urlSafe = await decodeImageInput(bytes.toString('base64url'), { fetcher, maxBytes: MB });
    expect(plain.equals(bytes)).toBe(true);
    expect(dataUrl.equals(bytes)).toBe(true);
    expect(urlSafe.equals(bytes)).toBe(true);
  });

  it('invalid base64 is a 422 naming the field', async () => {
    const err = await inputError(
      decodeImageInput({ kind: 'base64', data: 'abc$%^', mediaType: null }, { fetcher: createUrlFetcher(), maxBytes: MB, field: ['controlnet_image', 1, 'cn_img'] }),
    );
    expect(err.status).toBe(422);
    expect(err.detail).toEqual([
      { type: 'image_invalid_base64', loc: ['body', 'controlnet_image', 1, 'cn_img'], msg: 'controlnet_image[1].cn_img: is not valid base64 image data' },
    ]);
    const str = await inputError(decodeImageInput('not an image at all!', { fetcher: createUrlFetcher(), maxBytes: MB, field: ['uov_input_image'] }));
    expect(str.detail[0]).toMatchObject({ type: 'image_invalid_base64', loc: ['body', 'uov_input_image'] });
  });

  it('refuses base64 longer than maxBytes before decoding it (413)', async () => {
    const big = Buffer.alloc(2 * MB, 1).toString('base64');
    const err = await inputError(decodeImageInput(big, { fetcher: createUrlFetcher(), maxBytes: MB, field: ['uov_input_image'] }));
    expect(err).toMatchObject({ status: 413, problem: 'image-too-large' });
    expect(err.detail[0].ctx).toMatchObject({ max_bytes: MB, bytes: 2 * MB });
  });

  it('fetches URLs through the SSRF-safe fetcher and maps its refusals', async () => {
    const bytes = await png();
    routes.set('/a.png', { type: 'image/png', body: bytes });
    const open = createUrlFetcher({ allowPrivate: true });
    expect((await decodeImageInput(`${base}/a.png`, { fetcher: open, maxBytes: MB })).equals(bytes)).toBe(true);

    const blocked = await inputError(decodeImageInput(`${base}/a.png`, { fetcher: createUrlFetcher(), maxBytes: MB, field: ['inpaint_input_image'] }));
    expect(blocked).toMatchObject({ status: 422, problem: 'input-url-blocked' });
    expect(blocked.detail[0]).toMatchObject({ type: 'image_url_blocked', loc: ['body', 'inpaint_input_image'], input: `${base}/a.png`, ctx: { reason: 'address_not_allowed' } });

    const missing = await inputError(decodeImageInput(`${base}/missing.png`, { fetcher: open, maxBytes: MB }));
    expect(missing).toMatchObject({ problem: 'input-fetch-failed' });
    expect(missing.detail[0].ctx).toMatchObject({ reason: 'http_status', status: 404 });

    routes.set('/big.png', { type: 'image/png', body: Buffer.alloc(2 * MB) });
    const big = await inputError(decodeImageInput(`${base}/big.png`, { fetcher: open, maxBytes: MB }));
    expect(big).toMatchObject({ status: 413, problem: 'image-too-large' });
  });
});

describe('storeInputImage', () => {
  it('stores a PNG under inputs/<sha256 of the stored bytes>.png', async () => {
    const stored = await storeInputImage(await png(8, 6), { blobs, ...limits });
    expect(stored).toMatchObject({ width: 8, height: 6, mediaType: 'image/png' });
    expect(stored.key).toBe(`inputs/${stored.sha256}.png`);
    const object = await blobs.get(stored.key);
    expect(object?.contentType).toBe('image/png');
    expect(createHash('sha256').update(object!.bytes).digest('hex')).toBe(stored.sha256);
  });

  it('stores the same picture once (content hash), however it arrives', async () => {
    const bytes = await png();
    const a = await storeInputImage(bytes, { blobs, ...limits });
    const b = await storeInputImage(Buffer.from(bytes), { blobs, ...limits });
    expect(b.key).toBe(a.key);
    expect(blobs.puts).toEqual([a.key]);
  });

  it('applies EXIF orientation and strips metadata, keeping JPEG as JPEG', async () => {
    const jpeg = await sharp({ create: { width: 20, height: 10, channels: 3, background: 'blue' } })
      .jpeg()
      .withMetadata({ orientation: 6, exif: { IFD0: { Copyright: 'someone', Artist: 'me' } } })
      .toBuffer();
    expect((await sharp(jpeg).metadata()).exif).toBeDefined();
    const stored = await storeInputImage(jpeg, { blobs, ...limits });
    expect(stored).toMatchObject({ width: 10, height: 20, mediaType: 'image/jpeg' });
    expect(stored.key).toMatch(/^inputs\/[0-9a-f]{64}\.jpg$/);
    const meta = await sharp((await blobs.get(stored.key))!.bytes).metadata();
    expect(meta).toMatchObject({ format: 'jpeg', width: 10, height: 20 });
    expect(meta.exif).toBeUndefined();
    expect(meta.orientation).toBeUndefined();
  });

  it('keeps WebP, re-encodes a still GIF as PNG', async () => {
    const webp = await sharp({ create: { width: 4, height: 4, channels: 3, background: 'green' } }).webp().toBuffer();
    expect((await storeInputImage(webp, { blobs, ...limits })).mediaType).toBe('image/webp');
    const gif = await sharp({ create: { width: 4, height: 4, channels: 3, background: 'green' } }).gif().toBuffer();
    const stored = await storeInputImage(gif, { blobs, ...limits });
    expect(stored.mediaType).toBe('image/png');
    expect((await sharp((await blobs.get(stored.key))!.bytes).metadata()).format).toBe('png');
  });

  it('refuses a decompression bomb (600 KB-class PNG declaring 14000×14000) from its header: 413, little memory', async () => {
    const bomb = greyPngBomb(14000, 14000);
    expect(bomb.length).toBeLessThan(1 * MB);
    const rssBefore = process.memoryUsage().rss;
    // Refused from the header: decoding it would need ~590 MB of pixels, which the RSS check would see.
    const err = await inputError(storeInputImage(bomb, { blobs, ...limits, field: ['uov_input_image'] }));
    expect(process.memoryUsage().rss - rssBefore).toBeLessThan(150 * MB);
    expect(err).toMatchObject({ status: 413, problem: 'image-too-large' });
    expect(err.detail[0]).toMatchObject({ type: 'image_too_large', loc: ['body', 'uov_input_image'], ctx: { width: 14000, height: 14000, max_pixels: 4096 * 4096 } });
    expect(blobs.puts).toEqual([]);
  });

  it('refuses an image over maxPixels and a file over maxBytes', async () => {
    expect((await inputError(storeInputImage(await png(100, 100), { blobs, maxBytes: MB, maxPixels: 99 * 100 }))).status).toBe(413);
    expect((await inputError(storeInputImage(await png(100, 100), { blobs, maxBytes: 100, maxPixels: 1e6 }))).status).toBe(413);
  });

  it('refuses animated images, truncated JPEGs, SVG and non-images with a 422', async () => {
    const frames = await Promise.all(Array.from({ length: 100 }, (_, i) => png(16, 16, { r: i, g: 0, b: 0 })));
    const animated = await sharp(frames, { join: { animated: true } }).gif().toBuffer();
    const anim = await inputError(storeInputImage(animated, { blobs, ...limits }));
    expect(anim).toMatchObject({ status: 422, problem: 'invalid-image' });
    expect(anim.detail[0]).toMatchObject({ type: 'image_animated' });

    const jpeg = await sharp({ create: { width: 256, height: 256, channels: 3, background: 'red' } }).jpeg().toBuffer();
    const truncated = await inputError(storeInputImage(jpeg.subarray(0, Math.floor(jpeg.length * 0.6)), { blobs, ...limits }));
    expect(truncated.detail[0].type).toBe('image_invalid');

    const svg = Buffer.from('<svg xmlns="http://www.w3.org/2000/svg" width="10" height="10"><image href="http://169.254.169.254/x"/></svg>');
    expect((await inputError(storeInputImage(svg, { blobs, ...limits }))).detail[0].type).toBe('image_unsupported_format');
    expect((await inputError(storeInputImage(Buffer.from('hello world'), { blobs, ...limits }))).detail[0].type).toBe('image_invalid');
    expect(blobs.puts).toEqual([]);
  });
});

describe('resolveJobImages', () => {
  const deps = () => ({ fetcher: createUrlFetcher({ allowPrivate: true }), blobs, ...limits, inputUrl: (key: string) => `http://api.test/${key}` });

  it('stores every image of the job, replaces the sources and leaves no base64 in req_params', async () => {
    const red = await png(8, 8, { r: 255, g: 0, b: 0 });
    const blue = await png(8, 8, { r: 0, g: 0, b: 255 });
    const mask = await png(8, 8, { r: 255, g: 255, b: 255 });
    routes.set('/blue.png', { type: 'image/png', body: blue });
    const redB64 = `data:image/png;base64,${red.toString('base64')}`;
    const job = normaliseRequest(
      parseCommonRequest({
        uov_input_image: redB64,
        uov_method: 'Vary (Subtle)',
        inpaint_input_image: `${base}/blue.png`,
        inpaint_mask_image_upload: mask.toString('base64'),
        controlnet_image: [{ cn_img: redB64 }, { cn_img: null }, { cn_img: `${base}/blue.png` }],
        enhance_input_image: 'None',
      }),
    );
    const before = structuredClone(job);
    const out = await resolveJobImages(job, deps());

    expect(job).toEqual(before); // the input job is not modified
    expect(out.uov.image).toMatchObject({ kind: 'stored', key: expect.stringMatching(/^inputs\/[0-9a-f]{64}\.png$/) });
    expect(out.imagePrompts[0].image).toEqual(out.uov.image); // same picture, same stored input
    expect(out.inpaint.image).toEqual(out.imagePrompts[2].image);
    expect(out.inpaint.mask).toMatchObject({ kind: 'stored' });
    expect(out.imagePrompts[1].image).toBeNull();
    expect(out.enhance.image).toBeNull();
    expect(new Set(blobs.puts).size).toBe(3); // red, blue, mask
    expect(blobs.puts).toHaveLength(3);

    const rp = out.reqParams as Record<string, any>;
    const urlOf = (s: unknown) => `http://api.test/${(s as { key: string }).key}`;
    expect(rp.uov_input_image).toBe(urlOf(out.uov.image));
    expect(rp.inpaint_input_image).toBe(urlOf(out.inpaint.image));
    expect(rp.inpaint_mask_image_upload).toBe(urlOf(out.inpaint.mask));
    expect(rp.enhance_input_image).toBe('');
    expect(rp.controlnet_image.map((s: { cn_img: string }) => s.cn_img)).toEqual([urlOf(out.uov.image), '', urlOf(out.inpaint.image), '']);
    const serialized = JSON.stringify(out);
    expect(serialized).not.toContain(red.toString('base64').slice(0, 40));
    expect(serialized).not.toContain(mask.toString('base64').slice(0, 40));
    expect(serialized).not.toContain(`${base}/blue.png`);
  });

  it('reports every bad field at once with its request name; 413 wins when one is too large', async () => {
    const job = normaliseRequest(
      parseCommonRequest({
        uov_input_image: Buffer.from('definitely not an image').toString('base64'),
        controlnet_image: [{ cn_img: null }, { cn_img: `${base}/nowhere.png` }],
        inpaint_input_image: greyPngBomb(5000, 5000).toString('base64'),
      }),
    );
    const err = await inputError(resolveJobImages(job, deps()));
    expect(err.status).toBe(413);
    expect(err.detail.map((d) => [d.loc, d.type])).toEqual([
      [['body', 'uov_input_image'], 'image_invalid'],
      [['body', 'inpaint_input_image'], 'image_too_large'],
      [['body', 'controlnet_image', 1, 'cn_img'], 'image_fetch_failed'],
    ]);
    expect(err.detail[2].msg).toMatch(/^controlnet_image\[1\]\.cn_img: could not fetch the image/);
    expect(blobs.puts).toEqual([]);
  });

  it('maps slot names through fieldPath (old Fooocus-API names) and refuses private URLs by default', async () => {
    const job = normaliseRequest(parseCommonRequest({ controlnet_image: [{ cn_img: null }, { cn_img: `${base}/x.png` }] }));
    const err = await inputError(
      resolveJobImages(job, { ...deps(), fetcher: createUrlFetcher() }, (f) => {
        const m = /^controlnet_image\.(\d+)\.cn_img$/.exec(f);
        return m ? ['image_prompts', Number(m[1]), 'cn_img'] : [f];
      }),
    );
    expect(err).toMatchObject({ status: 422, problem: 'input-url-blocked' });
    expect(err.detail[0].loc).toEqual(['body', 'image_prompts', 1, 'cn_img']);
    expect(err.detail[0].msg).toMatch(/^image_prompts\[1\]\.cn_img: URL refused/);
  });

  it('rethrows blob store failures as they are (not the client’s fault)', async () => {
    const job = normaliseRequest(parseCommonRequest({ uov_input_image: (await png()).toString('base64') }));
    const broken: BlobStore = { ...blobs, exists: async () => false, put: async () => { throw new Error('disk full'); } };
    await expect(resolveJobImages(job, { ...deps(), blobs: broken })).rejects.toMatchObject({ code: 'transient_infra' });
  });
});
