/**
 * What an ESRGAN (RRDBNet, "old arch") state dict is, read from its keys and
 * shapes the way Fooocus's loader does (F modules/upscaler.py renames
 * `residual_block_` → `RDB`, then ldm_patched/pfn/architecture/RRDB.py):
 *
 *   model.0                                  conv_first, in_nc → nf
 *   model.1.sub.{b}.RDB{1..3}.conv{1..5}.0   b < nb; conv k takes nf + (k−1)·gc, gives gc (nf for conv5)
 *   model.1.sub.{nb}                         trunk conv (the ShortcutBlock's last layer)
 *   model.{3,6,…}                            one per ×2 stage: nearest ×2, conv, LeakyReLU 0.2
 *   model.{2+3n}                             HR conv (+ LeakyReLU), n = log2(scale)
 *   model.{4+3n}                             last conv, nf → out_nc
 *
 * nf, gc come from shapes, nb from the highest block index, the scale as
 * RRDB.py's get_scale does: 2^(number of `model.N.weight` with N > 6). The
 * whole layout is then checked against those figures, so a file that only
 * looks like ESRGAN (wrong shapes, a missing conv, variants this graph does
 * not build: ESRGAN+ conv1x1, 2c2, pixel-unshuffle Real-ESRGAN, BasicSR
 * new-arch names) is refused with a CheckpointError naming the file, never
 * left to fail inside onnxruntime.
 */
import { CheckpointError } from '../io/engineErrors.ts';

export interface EsrganConfig {
  /** Image channels in and out (3: RGB). */
  inChannels: number;
  outChannels: number;
  /** nf: trunk width. */
  filters: number;
  /** nb: RRDB blocks in the trunk. */
  blocks: number;
  /** gc: growth channels of each dense block. */
  growth: number;
  /** Output/input side ratio (a power of two). */
  scale: number;
  /** Layer index of each ×2 stage's conv, then of the HR conv and the last conv (`model.N`). */
  upsampleConvs: number[];
  hrConv: number;
  lastConv: number;
}

export interface TensorShapes {
  has(key: string): boolean;
  shape(key: string): readonly number[];
  keys(): Iterable<string>;
}

/** Fooocus's rename (F modules/upscaler.py): `residual_block_` → `RDB`. */
export function fooocusUpscalerKey(key: string): string {
  return key.replaceAll('residual_block_', 'RDB');
}

/**
 * The file's keys under the names the graph uses: Fooocus's rename, and
 * BasicSR's training wrapper (`params_ema`, else `params`) unwrapped as
 * RRDB.py does. Returns graph key → stored key.
 */
export function esrganKeyMap(storedKeys: Iterable<string>): Map<string, string> {
  const all = [...storedKeys];
  const wrapper = ['params_ema.', 'params.'].find((p) => all.some((k) => k.startsWith(p)));
  const map = new Map<string, string>();
  for (const k of all) {
    if (wrapper && !k.startsWith(wrapper)) continue;
    map.set(fooocusUpscalerKey(wrapper ? k.slice(wrapper.length) : k), k);
  }
  return map;
}

const RDB_KEY = /^model\.1\.sub\.(\d+)\.RDB(\d+)\.conv(\d+)\.0\.(weight|bias)$/;
const LAYER_WEIGHT = /^model\.(\d+)\.weight$/;

/** Infers and checks the configuration; `file` names the model in errors. */
export function esrganConfigFromShapes(w: TensorShapes, file: string): EsrganConfig {
  const keys = [...w.keys()];
  const refuse = (detail: string) => new CheckpointError(file, 'unsupported_architecture', detail);
  const badShape = (detail: string) => new CheckpointError(file, 'bad_shape', detail);
  if (!w.has('model.0.weight')) {
    if (keys.some((k) => k.startsWith('conv_first.'))) throw refuse('BasicSR new-arch ESRGAN names (conv_first, body.N.rdbK); only the old-arch layout Fooocus ships (model.0, model.1.sub.N.RDBK) is supported');
    throw refuse('not an ESRGAN (RRDBNet) model: no model.0.weight');
  }
  if (keys.some((k) => k.includes('conv1x1'))) throw refuse('ESRGAN+ (conv1x1 in the dense blocks) is not supported');

  const first = w.shape('model.0.weight');
  if (first.length !== 4) throw badShape(`model.0.weight is [${first}], expected a 4-d conv weight`);
  const [filters, inChannels, kh, kw] = first;
  if (kh !== 3 || kw !== 3) throw refuse(`model.0 has a ${kh}×${kw} kernel (ESRGAN-2c2 and others are not supported; plain ESRGAN is 3×3)`);
  if (inChannels !== 3) throw refuse(`the model takes ${inChannels} channels; only RGB→RGB ESRGAN is supported (pixel-unshuffle Real-ESRGAN takes 12 or 48)`);

  // Fooocus's get_scale: 2^(number of `model.N.weight`, N > 6).
  const layers = keys.map((k) => LAYER_WEIGHT.exec(k)).filter((m): m is RegExpExecArray => !!m).map((m) => Number(m[1]));
  const stages = layers.filter((n) => n > 6).length;
  const scale = 2 ** stages;
  const upsampleConvs = Array.from({ length: stages }, (_, i) => 3 + 3 * i);
  const hrConv = 2 + 3 * stages;
  const lastConv = 4 + 3 * stages;
  const expected = [0, ...upsampleConvs, hrConv, lastConv].sort((a, b) => a - b);
  const found = [...layers].sort((a, b) => a - b);
  if (found.join() !== expected.join()) {
    throw refuse(`layers model.{${found}} do not form an ESRGAN ×${scale} (expected model.{${expected}})`);
  }

  let blocks = 0;
  for (const k of keys) {
    const m = RDB_KEY.exec(k);
    if (m) blocks = Math.max(blocks, Number(m[1]) + 1);
  }
  if (blocks === 0) throw refuse('no dense blocks (model.1.sub.N.RDBK.convJ.0.weight, or residual_block_K before the rename)');
  const growth = w.has('model.1.sub.0.RDB1.conv1.0.weight') ? w.shape('model.1.sub.0.RDB1.conv1.0.weight')[0] : 0;

  const expectShape = (key: string, want: number[]) => {
    if (!w.has(key)) throw new CheckpointError(file, 'missing_tensor', `${key} is missing (an ESRGAN with nb=${blocks} needs it)`);
    const got = w.shape(key);
    if (got.join() !== want.join()) throw badShape(`${key} is [${got}], expected [${want}] for nf=${filters}, gc=${growth}`);
  };
  const conv = (prefix: string, out: number, inp: number) => {
    expectShape(`${prefix}.weight`, [out, inp, 3, 3]);
    expectShape(`${prefix}.bias`, [out]);
  };
  conv('model.0', filters, inChannels);
  for (let b = 0; b < blocks; b++) {
    for (let r = 1; r <= 3; r++) {
      for (let c = 1; c <= 5; c++) conv(`model.1.sub.${b}.RDB${r}.conv${c}.0`, c === 5 ? filters : growth, filters + (c - 1) * growth);
    }
  }
  conv(`model.1.sub.${blocks}`, filters, filters);
  for (const n of upsampleConvs) conv(`model.${n}`, filters, filters);
  conv(`model.${hrConv}`, filters, filters);
  const outChannels = w.has(`model.${lastConv}.weight`) ? w.shape(`model.${lastConv}.weight`)[0] : 0;
  if (outChannels !== 3) throw refuse(`the model gives ${outChannels} channels; only RGB→RGB ESRGAN is supported`);
  conv(`model.${lastConv}`, outChannels, filters);

  const expectedCount = 2 * (1 + 15 * blocks + 1 + stages + 2);
  if (keys.length !== expectedCount) {
    const known = new Set<string>();
    for (let b = 0; b < blocks; b++) for (let r = 1; r <= 3; r++) for (let c = 1; c <= 5; c++) known.add(`model.1.sub.${b}.RDB${r}.conv${c}.0`);
    for (const n of [0, ...upsampleConvs, hrConv, lastConv]) known.add(`model.${n}`);
    known.add(`model.1.sub.${blocks}`);
    const extra = keys.filter((k) => !known.has(k.replace(/\.(weight|bias)$/, '')));
    throw refuse(`${extra.length} tensors an ESRGAN does not have (${extra.slice(0, 3).join(', ')}${extra.length > 3 ? ', …' : ''})`);
  }
  return { inChannels, outChannels, filters, blocks, growth, scale, upsampleConvs, hrConv, lastConv };
}
