/**
 * The torch pickle reader on the golden-features pickles (the file formats
 * Fooocus users have), on hostile pickles (which must be refused without
 * anything running) and on damaged or foreign files (which must end in a
 * CheckpointError a user can act on).
 */
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CheckpointError } from './engineErrors.ts';
import { flattenTensors, isTuple, loadTorchCheckpoint, loadTorchStateDict, PickleDict, TorchTensor, UnsafePickleError } from './torchPickle.ts';
import {
  float32Bytes, legacyTorchFile, PickleWriter, stateDictPickle, torchZip, type FixtureStorage,
} from './testSupport/torchPickleFixtures.ts';
import { writeSafetensors } from './testSupport/writeSafetensors.ts';

const FEATURES = '/work/shared/golden-features';
const featuresJson = JSON.parse(readFileSync(join(FEATURES, 'cases.json'), 'utf8')) as {
  files: { path: string; format?: string; zip_root?: string; top_level_type?: string; entries?: number }[];
  cases: { expansion: { folder: string; config: { n_embd: number; n_layer: number; n_positions: number } } };
};
const PICKLES = featuresJson.files.filter((f) => f.format?.startsWith('torch zip pickle'));

let tmp: string;
beforeAll(() => {
  tmp = mkdtempSync(join(tmpdir(), 'torch-pickle-'));
});
afterAll(() => {
  rmSync(tmp, { recursive: true, force: true });
});

function write(name: string, data: Uint8Array): string {
  const p = join(tmp, name);
  writeFileSync(p, data);
  return p;
}

function errorOf(fn: () => unknown): unknown {
  try {
    fn();
  } catch (e) {
    return e;
  }
  throw new Error('expected an error');
}

const f32 = (key: string, values: number[]): FixtureStorage => ({ key, type: 'FloatStorage', numel: values.length, data: float32Bytes(values) });

describe('golden-features pickles', () => {
  it('lists five zip pickles in cases.json', () => {
    expect(PICKLES.map((f) => f.path).sort()).toEqual([
      'inpaint/fooocus_inpaint_head_tiny.pth',
      'inpaint/inpaint_tiny.fooocus.patch',
      'ipadapter/ip-adapter-plus_tiny.bin',
      'prompt_expansion/fooocus_expansion_tiny/pytorch_model.bin',
      'upscale_models/tiny_fooocus_upscaler.bin',
    ]);
  });

  it.each(PICKLES.map((f) => [f.path, f] as const))('%s loads with the zip root, top-level type and entry count of cases.json', (_, f) => {
    const ckpt = loadTorchCheckpoint(join(FEATURES, f.path));
    expect(ckpt.format).toBe('zip');
    expect(ckpt.zipRoot).toBe(f.zip_root);
    expect(ckpt.root).toBeInstanceOf(PickleDict);
    const root = ckpt.root as PickleDict;
    expect(root.pyClass).toBe(f.top_level_type);
    expect(root.size).toBe(f.entries);
  });

  it('inpaint head: head F32 [32,5,3,3]', () => {
    const sd = loadTorchStateDict(join(FEATURES, 'inpaint/fooocus_inpaint_head_tiny.pth'));
    const head = sd.get('head')!;
    expect([...sd.keys()]).toEqual(['head']);
    expect([head.dtype, head.shape]).toEqual(['F32', [32, 5, 3, 3]]);
    expect(head.float32().every(Number.isFinite)).toBe(true);
  });

  it('inpaint patch: 71 UNet keys, each (U8 weight, F16 0-dim min, F16 0-dim max) with min <= max', () => {
    const root = loadTorchCheckpoint(join(FEATURES, 'inpaint/inpaint_tiny.fooocus.patch')).root as PickleDict;
    expect(root.size).toBe(71);
    for (const [key, value] of root) {
      expect(String(key)).toMatch(/^diffusion_model\./);
      expect(isTuple(value)).toBe(true);
      const [w, lo, hi] = value as TorchTensor[];
      expect([w.dtype, lo.dtype, lo.shape, hi.dtype, hi.shape]).toEqual(['U8', 'F16', [], 'F16', []]);
      expect(lo.float32()[0]).toBeLessThanOrEqual(hi.float32()[0]);
    }
  });

  it('upscaler: 72 F16 tensors in old ESRGAN names', () => {
    const sd = loadTorchStateDict(join(FEATURES, 'upscale_models/tiny_fooocus_upscaler.bin'));
    expect(sd.size).toBe(72);
    expect([...sd.values()].every((t) => t.dtype === 'F16')).toBe(true);
    expect(sd.get('model.0.weight')!.shape).toEqual([16, 3, 3, 3]);
    expect([...sd.keys()].some((k) => k.includes('residual_block_'))).toBe(true);
  });

  it('IP-Adapter: {image_proj, ip_adapter} dicts of F16 tensors', () => {
    const root = loadTorchCheckpoint(join(FEATURES, 'ipadapter/ip-adapter-plus_tiny.bin')).root as PickleDict;
    expect([...root.keys()]).toEqual(['image_proj', 'ip_adapter']);
    const sd = flattenTensors(root);
    expect([...sd.values()].every((t) => t.dtype === 'F16')).toBe(true);
    expect(sd.get('image_proj.latents')!.shape).toEqual([1, 4, 64]);
    expect(sd.get('ip_adapter.1.to_k_ip.weight')!.shape[1]).toBe(192);
  });

  it('GPT-2 expansion: HF names, buffers, and lm_head sharing the wte storage (read once)', () => {
    const { n_embd: C, n_layer: L, n_positions: P } = featuresJson.cases.expansion.config;
    const sd = loadTorchStateDict(join(FEATURES, featuresJson.cases.expansion.folder, 'pytorch_model.bin'));
    expect(sd.size).toBe(3 + L * 14 + 2);
    const wte = sd.get('transformer.wte.weight')!;
    const lm = sd.get('lm_head.weight')!;
    expect([wte.dtype, wte.shape]).toEqual(['F16', [50257, C]]);
    expect(lm.storage).toBe(wte.storage);
    expect(lm.data.buffer).toBe(wte.data.buffer);
    expect(sd.get('transformer.wpe.weight')!.shape).toEqual([P, C]);
    expect(sd.get('transformer.h.0.attn.c_attn.weight')!.shape).toEqual([C, 3 * C]);
    expect(sd.get('transformer.h.0.mlp.c_proj.weight')!.shape).toEqual([4 * C, C]);
    const mask = sd.get('transformer.h.0.attn.bias')!;
    expect([mask.dtype, mask.shape]).toEqual(['BOOL', [1, 1, P, P]]);
    // The causal mask buffer: lower triangle true.
    const m = mask.typed() as Uint8Array;
    expect([m[0], m[1], m[P], m[P + 1]]).toEqual([1, 0, 1, 1]);
  });
});

describe('hostile pickles are refused before anything runs', () => {
  const canary = () => join(tmp, 'pwned');

  /** GLOBAL module.name, then REDUCE with ("touch <canary>",): what a malicious .bin does. */
  const callGlobal = (module: string, name: string, stack = false) => {
    const w = new PickleWriter().proto(stack ? 4 : 2);
    if (stack) w.stackGlobal(module, name);
    else w.global(module, name);
    return w.mark().str(`touch ${canary()}`).tuple().reduce().stop().bytes();
  };

  it.each([
    ['os', 'system'],
    ['builtins', 'eval'],
    ['subprocess', 'Popen'],
    ['posix', 'system'],
    ['nt', 'system'],
    ['builtins', 'getattr'],
    ['torch', 'load'],
    ['numpy.core.multiarray', '_reconstruct'],
  ])('GLOBAL %s.%s + REDUCE in a torch zip → UnsafePickleError naming the global and the file', (module, name) => {
    const path = write(`evil-${module}-${name}.bin`, torchZip('evil', callGlobal(module, name), []));
    const e = errorOf(() => loadTorchCheckpoint(path));
    expect(e).toBeInstanceOf(UnsafePickleError);
    expect(e).toBeInstanceOf(CheckpointError);
    expect((e as UnsafePickleError).global).toBe(`${module}.${name}`);
    expect((e as Error).message).toContain(path);
    expect((e as Error).message).toContain(`${module}.${name}`);
    expect(existsSync(canary())).toBe(false);
  });

  it('STACK_GLOBAL (protocol 4) os.system is refused too', () => {
    const path = write('evil-stack.bin', torchZip('archive', callGlobal('os', 'system', true), []));
    const e = errorOf(() => loadTorchCheckpoint(path)) as UnsafePickleError;
    expect(e).toBeInstanceOf(UnsafePickleError);
    expect(e.global).toBe('os.system');
  });

  it('a hostile global after valid tensors fails the whole file', () => {
    const s = f32('0', [1, 2, 3, 4]);
    const pickle = stateDictPickle([{ name: 'w', storage: s, offset: 0, shape: [4], stride: [1] }], {
      after: (w) => w.str('x').global('subprocess', 'check_output').mark().str('id').tuple().reduce().setitem(),
    });
    const e = errorOf(() => loadTorchCheckpoint(write('evil-late.bin', torchZip('evil-late', pickle, [s])))) as UnsafePickleError;
    expect(e).toBeInstanceOf(UnsafePickleError);
    expect(e.global).toBe('subprocess.check_output');
  });

  it('INST (protocol 0 class call) os.system is refused', () => {
    const bytes = new PickleWriter().mark().str('id').op(0x69, ...Buffer.from('os\nsystem\n')).stop().bytes();
    const e = errorOf(() => loadTorchCheckpoint(write('evil-inst.bin', torchZip('evil-inst', bytes, [])))) as UnsafePickleError;
    expect(e.global).toBe('os.system');
  });

  it('calling an allowed marker (a storage type) is refused', () => {
    const bytes = new PickleWriter().proto().global('torch', 'FloatStorage').mark().int(3).tuple().reduce().stop().bytes();
    const e = errorOf(() => loadTorchCheckpoint(write('evil-marker.bin', torchZip('m', bytes, [])))) as UnsafePickleError;
    expect(e).toBeInstanceOf(UnsafePickleError);
    expect(e.global).toBe('torch.FloatStorage');
  });

  it('copyreg extension codes (EXT1) are refused', () => {
    const bytes = new PickleWriter().proto().op(0x82, 1).emptyTuple().reduce().stop().bytes();
    expect(errorOf(() => loadTorchCheckpoint(write('evil-ext.bin', torchZip('x', bytes, []))))).toBeInstanceOf(UnsafePickleError);
  });

  it('a legacy (non-zip) file with os.system is refused', () => {
    const path = write('evil-legacy.pt', legacyTorchFile(callGlobal('os', 'system'), []));
    expect((errorOf(() => loadTorchCheckpoint(path)) as UnsafePickleError).global).toBe('os.system');
  });
});

describe('damaged and foreign files', () => {
  const expansionBin = join(FEATURES, featuresJson.cases.expansion.folder, 'pytorch_model.bin');

  it('a truncated zip → CheckpointError truncated', () => {
    const full = readFileSync(expansionBin);
    const e = errorOf(() => loadTorchCheckpoint(write('cut.bin', full.subarray(0, Math.floor(full.length / 2))))) as CheckpointError;
    expect(e).toBeInstanceOf(CheckpointError);
    expect(e.reason).toBe('truncated');
    expect(e.message).toContain('cut.bin');
  });

  it('a truncated data.pkl inside an intact zip → CheckpointError truncated', () => {
    const s = f32('0', [1, 2]);
    const pickle = stateDictPickle([{ name: 'w', storage: s, offset: 0, shape: [2], stride: [1] }]);
    const e = errorOf(() => loadTorchCheckpoint(write('cut-pkl.bin', torchZip('r', pickle.subarray(0, 40), [s])))) as CheckpointError;
    expect(e.reason).toBe('truncated');
  });

  it('a storage entry shorter than its element count → CheckpointError truncated', () => {
    const s = { ...f32('0', [1, 2]), numel: 3 };
    const pickle = stateDictPickle([{ name: 'w', storage: s, offset: 0, shape: [3], stride: [1] }]);
    const e = errorOf(() => loadTorchCheckpoint(write('short.bin', torchZip('r', pickle, [s])))) as CheckpointError;
    expect(e.reason).toBe('truncated');
  });

  it('a corrupted storage (CRC mismatch) is refused', () => {
    const s = f32('0', [1, 2]);
    const pickle = stateDictPickle([{ name: 'w', storage: s, offset: 0, shape: [2], stride: [1] }]);
    const e = errorOf(() => loadTorchCheckpoint(write('crc.bin', torchZip('r', pickle, [s], { badCrc: 'r/data/0' })))) as CheckpointError;
    expect(e).toBeInstanceOf(CheckpointError);
    expect(e.message).toMatch(/CRC/);
  });

  it('a safetensors file → a CheckpointError that says so', () => {
    const path = writeSafetensors(join(tmp, 'model.safetensors'), [{ name: 'w', dtype: 'F32', shape: [2] }]);
    const e = errorOf(() => loadTorchCheckpoint(path)) as CheckpointError;
    expect(e).toBeInstanceOf(CheckpointError);
    expect(e.reason).toBe('bad_header');
    expect(e.message).toMatch(/safetensors file, not a PyTorch pickle/);
  });

  it('a missing file → not_found; text → bad_header; empty → truncated', () => {
    expect((errorOf(() => loadTorchCheckpoint(join(tmp, 'nope.bin'))) as CheckpointError).reason).toBe('not_found');
    expect((errorOf(() => loadTorchCheckpoint(write('text.bin', Buffer.from('hello world')))) as CheckpointError).reason).toBe('bad_header');
    expect((errorOf(() => loadTorchCheckpoint(write('empty.bin', new Uint8Array(0)))) as CheckpointError).reason).toBe('truncated');
  });

  it('a zip with two root folders is not a torch archive', () => {
    const s = f32('0', [1]);
    const a = torchZip('a', stateDictPickle([{ name: 'w', storage: s, offset: 0, shape: [1], stride: [1] }]), [s]);
    // Re-root half of the entries by rewriting one name in place (same length keeps offsets valid).
    const broken = Buffer.from(a.toString('latin1').replaceAll('a/version', 'b/version'), 'latin1');
    expect((errorOf(() => loadTorchCheckpoint(write('tworoots.bin', broken))) as CheckpointError).message).toMatch(/one root folder/);
  });
});

describe('storages and views', () => {
  const s = f32('0', [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11]);
  const refs = [
    { name: 'whole', storage: s, offset: 0, shape: [3, 4], stride: [4, 1] },
    { name: 'tail', storage: s, offset: 6, shape: [2, 3], stride: [3, 1] },
    { name: 'transposed', storage: s, offset: 0, shape: [4, 3], stride: [1, 4] },
    { name: 'column', storage: s, offset: 1, shape: [3], stride: [4] },
    { name: 'expanded', storage: s, offset: 2, shape: [2, 2], stride: [0, 1] },
  ];

  it.each([
    ['stored zip', () => torchZip('any_root_name', stateDictPickle(refs), [s])],
    ['deflated zip', () => torchZip('archive', stateDictPickle(refs), [s], { deflate: true })],
    ['ZIP64 zip', () => torchZip('archive', stateDictPickle(refs), [s], { zip64: true })],
    ['legacy file', () => legacyTorchFile(stateDictPickle(refs, { legacy: true }), [s])],
  ])('%s: contiguous views share the storage, strided ones are gathered', (label, make) => {
    const sd = loadTorchStateDict(write(`views-${label.replace(/ /g, '_')}.bin`, make()));
    const values = (k: string) => Array.from(sd.get(k)!.float32());
    expect(values('whole')).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11]);
    expect(values('tail')).toEqual([6, 7, 8, 9, 10, 11]);
    expect(values('transposed')).toEqual([0, 4, 8, 1, 5, 9, 2, 6, 10, 3, 7, 11]);
    expect(values('column')).toEqual([1, 5, 9]);
    expect(values('expanded')).toEqual([2, 3, 2, 3]);
    expect(sd.get('tail')!.data.buffer).toBe(sd.get('whole')!.data.buffer);
    expect(sd.get('transposed')!.isContiguous).toBe(false);
  });

  it('a view reaching past its storage → CheckpointError bad_shape', () => {
    const pickle = stateDictPickle([{ name: 'w', storage: s, offset: 8, shape: [2, 3], stride: [3, 1] }]);
    const e = errorOf(() => loadTorchCheckpoint(write('oob.bin', torchZip('r', pickle, [s])))) as CheckpointError;
    expect(e.reason).toBe('bad_shape');
    expect(e.message).toMatch(/reaches element 13 of the 12-element storage/);
  });

  it('every listed storage dtype maps to its safetensors dtype', () => {
    const types = {
      HalfStorage: 'F16', FloatStorage: 'F32', BFloat16Storage: 'BF16', DoubleStorage: 'F64', LongStorage: 'I64',
      IntStorage: 'I32', ShortStorage: 'I16', CharStorage: 'I8', ByteStorage: 'U8', BoolStorage: 'BOOL',
    } as const;
    const bytes = { F16: 2, F32: 4, BF16: 2, F64: 8, I64: 8, I32: 4, I16: 2, I8: 1, U8: 1, BOOL: 1 } as const;
    const storages = Object.entries(types).map(([type, dtype], i) => ({ key: String(i), type, numel: 2, data: new Uint8Array(2 * bytes[dtype]) }));
    const pickle = stateDictPickle(storages.map((st) => ({ name: st.type, storage: st, offset: 0, shape: [2], stride: [1] })));
    const sd = loadTorchStateDict(write('dtypes.bin', torchZip('d', pickle, storages)));
    for (const [type, dtype] of Object.entries(types)) expect(sd.get(type)!.dtype).toBe(dtype);
  });
});
