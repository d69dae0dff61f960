/**
 * The inpaint head: loaded from the golden `.pth` through the allow-listed
 * pickle reader (a hostile `.pth` is refused before anything runs), its
 * replicate-padded conv checked by hand, and its feature against the golden
 * head.feature on the recorded feed.
 */
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { CheckpointError } from '../io/engineErrors.ts';
import { UnsafePickleError } from '../io/torchPickle.ts';
import { float32Bytes, PickleWriter, stateDictPickle, torchZip } from '../io/testSupport/torchPickleFixtures.ts';
import { inpaintHeadFeature, inpaintHeadFeed, loadInpaintHead } from './inpaintHead.ts';
import { FEATURES, inpaintSection, openCase } from './testSupport/inpaintGolden.ts';

const model = openCase(inpaintSection.model_file);
const tmp = mkdtempSync(join(tmpdir(), 'inpaint-head-'));
afterAll(() => {
  model.close();
  rmSync(tmp, { recursive: true, force: true });
});

describe('loadInpaintHead', () => {
  it('reads head F32 [32, 5, 3, 3] from the golden .pth', () => {
    const head = loadInpaintHead(join(FEATURES, inpaintSection.files.head));
    expect(head.outChannels).toBe(inpaintSection.files.head_shape[0]);
    expect(head.weight.length).toBe(32 * 5 * 9);
  });

  it('refuses a .pth whose pickle calls os.system, without running it', () => {
    const canary = join(tmp, 'pwned');
    const pickle = new PickleWriter().proto(2).global('os', 'system').mark().str(`touch ${canary}`).tuple().reduce().stop().bytes();
    const path = join(tmp, 'evil_head.pth');
    writeFileSync(path, torchZip('evil_head', pickle, []));
    expect(() => loadInpaintHead(path)).toThrow(UnsafePickleError);
    expect(existsSync(canary)).toBe(false);
  });

  it('refuses a file without a [C, 5, 3, 3] head', () => {
    const path = join(tmp, 'wrong.pth');
    const storage = { key: '0', type: 'FloatStorage', numel: 4, data: float32Bytes([1, 2, 3, 4]) };
    writeFileSync(path, torchZip('wrong', stateDictPickle([{ name: 'head', storage, offset: 0, shape: [2, 2], stride: [2, 1] }]), [storage]));
    expect(() => loadInpaintHead(path)).toThrow(CheckpointError);
  });
});

describe('inpaintHeadFeature', () => {
  it('replicate padding: a constant input gives 45·c·w per output, also at the borders', () => {
    // One output channel, every weight w: each output sums 5 channels × 9 taps of the constant c.
    const head = { weight: new Float32Array(45).fill(0.5), outChannels: 1 };
    const feed = new Float32Array(5 * 3 * 4).fill(2);
    const out = inpaintHeadFeature(head, feed, 3, 4);
    expect(out.dims).toEqual([1, 1, 3, 4]);
    expect(Array.from(out.data)).toEqual(new Array(12).fill(45));
  });

  it('the corner sees its own value through the padding (replicate, not zero)', () => {
    // Only the top-left tap of channel 0 is 1: output(y, x) = input(clamp(y − 1), clamp(x − 1)).
    const weight = new Float32Array(45);
    weight[0] = 1;
    const feed = new Float32Array(5 * 2 * 2);
    feed.set([1, 2, 3, 4]);
    expect(Array.from(inpaintHeadFeature({ weight, outChannels: 1 }, feed, 2, 2).data)).toEqual([1, 1, 1, 1]);
    weight[0] = 0;
    weight[8] = 1; // bottom-right tap: input(clamp(y + 1), clamp(x + 1))
    expect(Array.from(inpaintHeadFeature({ weight, outChannels: 1 }, feed, 2, 2).data)).toEqual([4, 4, 4, 4]);
  });

  it('equals the golden head.feature on the recorded feed (rtol/atol 1e-5)', () => {
    const head = loadInpaintHead(join(FEATURES, inpaintSection.files.head));
    const [, , h, w] = model.info('head.feed').shape;
    const got = inpaintHeadFeature(head, model.float32('head.feed'), h, w).data;
    const want = model.float32('head.feature');
    for (let i = 0; i < want.length; i++) expect(Math.abs(got[i] - want[i])).toBeLessThanOrEqual(1e-5 + 1e-5 * Math.abs(want[i]));
  });

  it('inpaintHeadFeed concatenates the mask and the scaled latent', () => {
    const feed = inpaintHeadFeed([1, 0], [0.5, 1, 1.5, 2, 2.5, 3, 3.5, 4], 1, 2);
    expect(feed.dims).toEqual([1, 5, 1, 2]);
    expect(Array.from(feed.data)).toEqual([1, 0, 0.5, 1, 1.5, 2, 2.5, 3, 3.5, 4]);
    expect(() => inpaintHeadFeed([1], [0], 1, 2)).toThrow(RangeError);
  });
});
