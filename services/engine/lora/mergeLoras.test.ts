import { copyFileSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { floatToHalf } from '../io/half.ts';
import { inspectCheckpoint } from '../io/inspectCheckpoint.ts';
import { openSafetensors, type SafetensorsFile } from '../io/safetensors.ts';
import { writeSafetensors, type FixtureTensor } from '../io/testSupport/writeSafetensors.ts';
import { stateDictPickle, torchZip, type FixtureStorage } from '../io/testSupport/torchPickleFixtures.ts';
import { checkpointWeights } from '../onnx/weightSource.ts';
import { LoraError } from './loraErrors.ts';
import { buildLoraKeyMap, unetToDiffusers, type LoraKeyMap } from './loraKeyMap.ts';
import { ensureLoraShard, loraVariantHash, resolveLoras, type LoraRequest, type ShardPrecision } from './mergeLoras.ts';
import { CHECKPOINT, config, LORA_A, LORA_B, LORA_C, LORA_CASE_FILE, TOL, worst } from './testing/loraGolden.ts';

let dir: string;
let checkpoint: SafetensorsFile;
let cases: SafetensorsFile;
let keyMap: LoraKeyMap;
let checkpointHash: string;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'merge-loras-'));
  checkpoint = openSafetensors(CHECKPOINT);
  cases = openSafetensors(LORA_CASE_FILE);
  keyMap = buildLoraKeyMap(checkpointWeights(checkpoint), inspectCheckpoint(CHECKPOINT));
  checkpointHash = 'test-checkpoint';
});
afterAll(() => {
  checkpoint.close();
  cases.close();
  rmSync(dir, { recursive: true, force: true });
});

async function shardFor(loras: LoraRequest[], precision: ShardPrecision = 'float32', cacheDir = join(dir, 'cache')) {
  const resolved = await resolveLoras(loras, cacheDir);
  return ensureLoraShard({ checkpoint, checkpointHash, keyMap, loras: resolved, precision, cacheDir });
}

/** A Fooocus-internal weight as the shard holds it (CLIP-G q/k/v: the row block). */
function mergedValues(shardPath: string, internal: string): Float32Array {
  const target = keyMap.internal.get(internal)!;
  const shard = openSafetensors(shardPath);
  try {
    const all = shard.float32(target.weight.key);
    const rows = target.weight.rows;
    if (!rows) return all;
    const rowLen = all.length / shard.info(target.weight.key).shape[0];
    return all.slice(rows.start * rowLen, (rows.start + rows.count) * rowLen);
  } finally {
    shard.close();
  }
}

/** Copies a LoRA file under new tensor names (null drops the tensor). */
function renamed(src: string, name: string, rename: (tensor: string) => string | null): string {
  const f = openSafetensors(src);
  const tensors: FixtureTensor[] = [];
  for (const [n, info] of f.tensors) {
    const to = rename(n);
    if (to !== null) tensors.push({ name: to, dtype: info.dtype, shape: info.shape, data: new Uint8Array(f.bytes(n)) });
  }
  f.close();
  return writeSafetensors(join(dir, name), tensors);
}

describe('mergeLoras against the golden LoRA case (F32 shard)', () => {
  it.each(['a07', 'a_m1', 'a07_b05'])('%s: every merged weight matches {cfg}.merged.{key} within the merge tolerance', async (name) => {
    const c = config(name);
    const shard = await shardFor(c.requests);
    expect(c.merged_keys.length).toBeGreaterThan(0);
    for (const key of c.merged_keys) {
      const w = worst(mergedValues(shard.path, key), cases.float32(`${name}.merged.${key}`), TOL.merged);
      expect(w.excess, `${key}: max abs ${w.maxAbs}`).toBeLessThanOrEqual(0);
      expect(w.maxAbs).toBeLessThan(1e-7); // a float64 merge is ≤ 3e-8 (README §11)
    }
  });

  it.each(['a07', 'a_m1', 'a07_b05', 'b10', 'c10'])('%s: patched-key counts are Fooocus\'s', async (name) => {
    const c = config(name);
    const { report } = await shardFor(c.requests);
    expect(report.patched).toEqual({ unet: c.unet_patched_keys, clip: c.clip_patched_keys });
  });

  it('A: its 4 unmatched tensors are reported and ignored, the file is applied', async () => {
    const { report } = await shardFor([{ path: LORA_A, weight: 0.7 }]);
    expect(report.files[0]).toMatchObject({ status: 'applied', unmatchedCount: 4, patched: { unet: 182, clip: 24 }, kinds: { lora: 206 } });
    expect(report.files[0].unmatched).toContain('lora_unet_not_a_layer.lora_down.weight');
    expect(report.graphs).toEqual(['clip_g', 'clip_l', 'unet']);
    expect(report.warnings.join('\n')).toMatch(/4 tensors match nothing/);
  });

  it('C: more than 12 unmatched tensors skip the whole file, reported with the reason; the shard is empty', async () => {
    const shard = await shardFor([{ path: LORA_C, weight: 1 }]);
    expect(shard.report.files[0]).toMatchObject({ status: 'skipped_mismatch', unmatchedCount: 14 });
    expect(shard.report.files[0].hints.join()).toMatch(/another architecture/);
    expect(shard.report.warnings[0]).toMatch(/skipped: 14 of its tensors match no weight/);
    expect(shard.report.tensors).toBe(0);
    expect(shard.report.graphs).toEqual([]);
  });

  it('B: LoCon convs, CP mids and alpha-less keys all patch their weights', async () => {
    const { report } = await shardFor([{ path: LORA_B, weight: 1 }]);
    expect(report.files[0]).toMatchObject({ status: 'applied', unmatchedCount: 0, kinds: { lora: 100 } });
    expect(report.graphs).toEqual(['unet']);
  });
});

describe('mergeLoras, fp16 shard (what a GPU fp16 graph reads)', () => {
  it('rounds the float32 merge to fp16: fp16(got) = fp16(want) except rare 1-ulp ties', async () => {
    const c = config('a07_b05');
    const shard = await shardFor(c.requests, 'stored');
    const f = openSafetensors(shard.path);
    let differing = 0;
    let total = 0;
    try {
      for (const key of c.merged_keys) {
        const t = keyMap.internal.get(key)!;
        expect(f.info(t.weight.key).dtype).toBe('F16');
        const got = mergedValues(shard.path, key);
        const want = cases.float32(`a07_b05.merged.${key}`);
        for (let i = 0; i < want.length; i++) {
          const d = Math.abs(floatToHalf(got[i]) - floatToHalf(want[i]));
          expect(d).toBeLessThanOrEqual(1);
          differing += d;
          total++;
        }
      }
    } finally {
      f.close();
    }
    expect(differing / total).toBeLessThan(1e-4);
  });
});

describe('mergeLoras: the same LoRA in other names, formats and containers', () => {
  it('diffusers UNet names (lora_unet_down_blocks_…) merge exactly like the ldm names', async () => {
    const config = inspectCheckpoint(CHECKPOINT).unet;
    const ldmToDiffusers = new Map<string, string>();
    for (const [d, l] of unetToDiffusers(config)) if (d.endsWith('.weight')) ldmToDiffusers.set(l.slice(0, -7).replace(/\./g, '_'), d.slice(0, -7).replace(/\./g, '_'));
    let renamedCount = 0;
    const path = renamed(LORA_B, 'locon-diffusers.safetensors', (n) => {
      const [module, ...rest] = n.split('.');
      const d = ldmToDiffusers.get(module.slice('lora_unet_'.length));
      if (!d) return n;
      renamedCount++;
      return [`lora_unet_${d}`, ...rest].join('.');
    });
    expect(renamedCount).toBe(300);
    const a = await shardFor([{ path: LORA_B, weight: 0.5 }]);
    const b = await shardFor([{ path, weight: 0.5 }]);
    expect(b.report.files[0]).toMatchObject({ status: 'applied', unmatchedCount: 0 });
    expectSameShardTensors(a.path, b.path);
  });

  it('PEFT-era processor names with `_lora.up` and transformers `lora_linear_layer` names merge like kohya names', async () => {
    const config = inspectCheckpoint(CHECKPOINT).unet;
    const ldmToDiffusers = new Map<string, string>();
    for (const [d, l] of unetToDiffusers(config)) if (d.endsWith('.weight')) ldmToDiffusers.set(l.slice(0, -7).replace(/\./g, '_'), d.slice(0, -7));
    const path = renamed(LORA_A, 'lora-diffusers.safetensors', (n) => {
      const dot = n.indexOf('.');
      const module = n.slice(0, dot);
      const suffix = n.slice(dot); // .alpha / .lora_up.weight / .lora_down.weight
      const up = suffix.replace('.lora_up.weight', '.up.weight').replace('.lora_down.weight', '.down.weight');
      const te = /^lora_te([12])_text_model_encoder_layers_(\d+)_(self_attn|mlp)_(.*)$/.exec(module);
      if (te) {
        const x = `text_encoder${te[1] === '2' ? '_2' : ''}.text_model.encoder.layers.${te[2]}.${te[3]}.${te[4]}`;
        return suffix === '.alpha' ? `${x}.alpha` : `${x}.lora_linear_layer${up}`;
      }
      const d = ldmToDiffusers.get(module.slice('lora_unet_'.length));
      if (!d || !/\.to_(q|k|v|out\.0)$/.test(d)) return n; // not an attention projection: keep the kohya name
      const x = `unet.${d.replace(/\.to_/, '.processor.to_').replace(/\.to_out\.0$/, '.to_out')}`;
      return suffix === '.alpha' ? `${x}.alpha` : `${x}_lora${up}`;
    });
    const a = await shardFor([{ path: LORA_A, weight: 0.7 }]);
    const b = await shardFor([{ path, weight: 0.7 }]);
    expect(b.report.files[0]).toMatchObject({ status: 'applied', patched: { unet: 182, clip: 24 }, unmatchedCount: 4 });
    expectSameShardTensors(a.path, b.path);
  });

  it('a torch zip pickle (.pt) of the same tensors merges like the safetensors file', async () => {
    const src = openSafetensors(LORA_A);
    const storages: FixtureStorage[] = [];
    const refs = [...src.tensors].map(([name, info], i) => {
      const numel = info.shape.reduce((a, b) => a * b, 1);
      const storage = { key: String(i), type: 'HalfStorage', numel, data: new Uint8Array(src.bytes(name)) };
      storages.push(storage);
      const stride = info.shape.map((_, d) => info.shape.slice(d + 1).reduce((a, b) => a * b, 1));
      return { name, storage, offset: 0, shape: info.shape, stride };
    });
    src.close();
    const path = join(dir, 'tiny-lora.pt');
    writeFileSync(path, torchZip('tiny-lora', stateDictPickle(refs), storages));
    const a = await shardFor([{ path: LORA_A, weight: -1 }]);
    const b = await shardFor([{ path, weight: -1 }]);
    expect(b.report.files[0]).toMatchObject({ status: 'applied', patched: { unet: 182, clip: 24 } });
    expectSameShardTensors(a.path, b.path);
  });
});

function expectSameShardTensors(pathA: string, pathB: string): void {
  const a = openSafetensors(pathA);
  const b = openSafetensors(pathB);
  try {
    expect([...b.tensors.keys()]).toEqual([...a.tensors.keys()]);
    for (const k of a.tensors.keys()) expect(Buffer.compare(a.bytes(k), b.bytes(k)), k).toBe(0);
  } finally {
    a.close();
    b.close();
  }
}

describe('mergeLoras: reports instead of silence', () => {
  it('a file that matches no weight is reported as no_match, not ignored silently', async () => {
    const path = writeSafetensors(join(dir, 'sd15-te.safetensors'), [
      { name: 'lora_te_text_model_encoder_layers_11_mlp_fc1.lora_down.weight', dtype: 'F16', shape: [2, 768] },
      { name: 'lora_te_text_model_encoder_layers_11_mlp_fc1.lora_up.weight', dtype: 'F16', shape: [3072, 2] },
    ]);
    const { report } = await shardFor([{ path, weight: 1 }]);
    expect(report.files[0].status).toBe('no_match');
    expect(report.warnings[0]).toMatch(/sd15-te\.safetensors matches no weight of this checkpoint/);
  });

  it('PEFT lora_A/lora_B names: skipped like Fooocus, with a hint that says why', async () => {
    const tensors: FixtureTensor[] = [];
    for (let i = 0; i < 7; i++) {
      tensors.push({ name: `base_model.model.down_blocks.${i}.attn1.to_q.lora_A.weight`, dtype: 'F16', shape: [2, 64] });
      tensors.push({ name: `base_model.model.down_blocks.${i}.attn1.to_q.lora_B.weight`, dtype: 'F16', shape: [64, 2] });
    }
    const { report } = await shardFor([{ path: writeSafetensors(join(dir, 'peft.safetensors'), tensors), weight: 1 }]);
    expect(report.files[0].status).toBe('skipped_mismatch');
    expect(report.warnings[0]).toMatch(/PEFT lora_A\/lora_B/);
  });

  it('a delta that does not fit its weight is reported and left out (Fooocus prints ERROR and goes on)', async () => {
    const path = writeSafetensors(join(dir, 'bad-shape.safetensors'), [
      { name: 'lora_unet_input_blocks_4_1_proj_in.lora_down.weight', dtype: 'F16', shape: [2, 65] },
      { name: 'lora_unet_input_blocks_4_1_proj_in.lora_up.weight', dtype: 'F16', shape: [64, 2] },
    ]);
    const { report } = await shardFor([{ path, weight: 1 }]);
    expect(report.files[0].shapeMismatches[0]).toMatch(/lora_unet_input_blocks_4_1_proj_in: .*4160 values/);
    expect(report.tensors).toBe(0);
  });
});

describe('LoRA files that cannot be used throw LoraError naming the file', () => {
  it('a missing file', async () => {
    const missing = join(dir, 'nope.safetensors');
    const e = await resolveLoras([{ path: missing, weight: 1 }], dir).catch((x: unknown) => x);
    expect(e).toBeInstanceOf(LoraError);
    expect((e as LoraError).loraReason).toBe('not_found');
    expect((e as LoraError).reason).toBe('not_found');
    expect((e as Error).message).toContain(missing);
  });

  it('a file in an unknown container', async () => {
    const path = join(dir, 'model.gguf');
    writeFileSync(path, 'GGUF not a LoRA');
    const e = await shardFor([{ path, weight: 1 }]).catch((x: unknown) => x);
    expect(e).toBeInstanceOf(LoraError);
    expect((e as LoraError).loraReason).toBe('unsupported_container');
    expect((e as Error).message).toContain('model.gguf');
  });
});

describe('the shard cache', () => {
  it('keys by content and weight, not by path or order; a second request reads the shard without merging', async () => {
    const cacheDir = join(dir, 'cache-reuse');
    const copyOfA = join(dir, 'renamed-copy-of-A.safetensors');
    copyFileSync(LORA_A, copyOfA);
    const first = await shardFor([{ path: LORA_A, weight: 0.7 }, { path: LORA_B, weight: 0.5 }], 'float32', cacheDir);
    const again = await shardFor([{ path: LORA_B, weight: 0.5 }, { path: copyOfA, weight: 0.7 }], 'float32', cacheDir);
    expect(first.merged).toBe(true);
    expect(again.merged).toBe(false);
    expect(again.path).toBe(first.path);
    expect(again.report.patched).toEqual(first.report.patched);
  });

  it('separates precisions and weights; drops weight-0 entries', async () => {
    const cacheDir = join(dir, 'cache-keys');
    const r = await resolveLoras([{ path: LORA_A, weight: 0.7 }, { path: LORA_B, weight: 0 }], cacheDir);
    expect(r.map((x) => x.weight)).toEqual([0.7]);
    const h = (p: ShardPrecision, w: number) => loraVariantHash('ck', p, [{ ...r[0], weight: w }]);
    expect(new Set([h('float32', 0.7), h('stored', 0.7), h('float32', 0.71)]).size).toBe(3);
  });
});
