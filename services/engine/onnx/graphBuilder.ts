/**
 * A small ONNX graph builder over onnx-proto.
 *
 * Why hand-built graphs: users bring single-file SDXL checkpoints, and later
 * features need extra graph inputs (inpaint residual, IP-Adapter K/V,
 * ControlNet residuals, FreeU) and weight patching by name (LoRA). Emitting the
 * graph from TypeScript with initializers named by checkpoint key gives both.
 *
 * Weights are external data pointing into the weight files. ORT 1.30 refuses
 * external locations outside the model's directory, so `save()` writes the
 * model next to links to those files (see linkWeightFiles).
 *
 * Compute precision: `float32` (CPU) or `float16` (GPU). A weight stored in
 * another float type gets a Cast right after it; ORT constant-folds
 * Cast(initializer) at session creation, so fp16 checkpoints run as fp32 on
 * CPU without a converted copy on disk (one fp32 copy lives in ORT's memory).
 */
import onnxProto from 'onnx-proto';
import type { onnx as OnnxTypes } from 'onnx-proto';
import type { SafetensorsDtype } from '../io/safetensors.ts';
import { floatToHalf } from '../io/half.ts';
import type { WeightRef, WeightSource } from './weightSource.ts';

// onnx-proto is CommonJS: take the namespace from its default export.
const { onnx } = onnxProto;
const DT = onnx.TensorProto.DataType;
const AT = onnx.AttributeProto.AttributeType;

export type ComputeType = 'float32' | 'float16';
export type ElemType = 'float32' | 'float16' | 'int64' | 'int32' | 'bool' | 'uint8';

const ELEM: Record<ElemType, number> = {
  float32: DT.FLOAT, float16: DT.FLOAT16, int64: DT.INT64, int32: DT.INT32, bool: DT.BOOL, uint8: DT.UINT8,
};

const ST_DT: Record<SafetensorsDtype, number> = {
  F64: DT.DOUBLE, F32: DT.FLOAT, F16: DT.FLOAT16, BF16: DT.BFLOAT16, I64: DT.INT64, I32: DT.INT32,
  I16: DT.INT16, I8: DT.INT8, U8: DT.UINT8, BOOL: DT.BOOL,
};

export type AttrValue = number | number[] | string | { float: number } | { floats: number[] } | { int: number };
export type Attrs = Record<string, AttrValue>;

export type Dim = number | string;

export const OPSET = 21;

export interface BuiltModel {
  proto: OnnxTypes.ModelProto;
  /** Distinct weight files the external data refers to, by the location name used inside the model. */
  weightFiles: Map<string, string>;
}

export class GraphBuilder {
  private nodes: OnnxTypes.INodeProto[] = [];
  private inits: OnnxTypes.ITensorProto[] = [];
  private inputs: OnnxTypes.IValueInfoProto[] = [];
  private outputs: OnnxTypes.IValueInfoProto[] = [];
  private weightCache = new Map<string, string>();
  private counter = 0;
  /** file path -> location name (w0.safetensors, w1...). */
  private files = new Map<string, string>();

  constructor(readonly name: string, readonly compute: ComputeType, private readonly weights?: WeightSource) {}

  get computeElem(): ElemType {
    return this.compute;
  }

  fresh(hint: string): string {
    return `${hint}_${this.counter++}`;
  }

  input(name: string, type: ElemType, dims: Dim[]): string {
    this.inputs.push(valueInfo(name, type, dims));
    return name;
  }

  output(value: string, name: string, type: ElemType, dims: Dim[]): void {
    if (value !== name) this.op('Identity', [value], {}, name);
    this.outputs.push(valueInfo(name, type, dims));
  }

  /** Add one node; returns its (first) output name. */
  op(type: string, inputs: string[], attrs: Attrs = {}, outName?: string, domain?: string): string {
    const out = outName ?? this.fresh(type);
    this.nodes.push(node(type, inputs, [out], attrs, out, domain));
    return out;
  }

  /** Add a node with several outputs. */
  opMulti(type: string, inputs: string[], nOut: number, attrs: Attrs = {}): string[] {
    const base = this.fresh(type);
    const outs = Array.from({ length: nOut }, (_, i) => `${base}_o${i}`);
    this.nodes.push(node(type, inputs, outs, attrs, base));
    return outs;
  }

  /** A checkpoint weight, as a tensor of the compute type. Cached per key. */
  weight(key: string): string {
    const cached = this.weightCache.get(key);
    if (cached) return cached;
    if (!this.weights) throw new Error(`graph ${this.name} has no weight source for ${key}`);
    const ref = this.weights.ref(key);
    const init = this.externalInit(ref);
    const want = ELEM[this.compute];
    const name = ST_DT[ref.dtype] === want ? init : this.op('Cast', [init], { to: want }, `${init}__c`);
    this.weightCache.set(key, name);
    return name;
  }

  /** Like weight() but keeps the stored type (for ints such as position ids). */
  weightRaw(key: string): string {
    if (!this.weights) throw new Error(`graph ${this.name} has no weight source for ${key}`);
    return this.externalInit(this.weights.ref(key));
  }

  hasWeight(key: string): boolean {
    return !!this.weights && this.weights.has(key);
  }

  weightShape(key: string): number[] {
    if (!this.weights) throw new Error(`graph ${this.name} has no weight source`);
    return this.weights.ref(key).shape;
  }

  /** A float constant of the compute type. */
  constFloat(values: ArrayLike<number>, dims: number[], hint = 'const'): string {
    const name = this.fresh(hint);
    if (this.compute === 'float32') {
      this.inits.push(onnx.TensorProto.create({ name, dims, dataType: DT.FLOAT, rawData: new Uint8Array(Float32Array.from(values).buffer) }));
    } else {
      const f = Float32Array.from(values);
      const h = new Uint16Array(f.length);
      for (let i = 0; i < f.length; i++) h[i] = floatToHalf(f[i]);
      this.inits.push(onnx.TensorProto.create({ name, dims, dataType: DT.FLOAT16, rawData: new Uint8Array(h.buffer) }));
    }
    return name;
  }

  /** A float32 constant regardless of the compute type. */
  constF32(values: ArrayLike<number>, dims: number[], hint = 'const'): string {
    const name = this.fresh(hint);
    this.inits.push(onnx.TensorProto.create({ name, dims, dataType: DT.FLOAT, rawData: new Uint8Array(Float32Array.from(values).buffer) }));
    return name;
  }

  constScalar(v: number, hint = 'scalar'): string {
    return this.constFloat([v], [], hint);
  }

  constInt64(values: ArrayLike<number | bigint>, dims?: number[], hint = 'i64'): string {
    const name = this.fresh(hint);
    const arr = BigInt64Array.from(Array.from(values as ArrayLike<number | bigint>, (v) => BigInt(v)));
    this.inits.push(onnx.TensorProto.create({ name, dims: dims ?? [arr.length], dataType: DT.INT64, rawData: new Uint8Array(arr.buffer) }));
    return name;
  }

  build(): BuiltModel {
    const graph = onnx.GraphProto.create({
      name: this.name,
      node: this.nodes,
      initializer: this.inits,
      input: this.inputs,
      output: this.outputs,
    });
    const proto = onnx.ModelProto.create({
      irVersion: 10,
      producerName: 'fooocus-cloud',
      graph,
      opsetImport: [{ domain: '', version: OPSET }, { domain: 'com.microsoft', version: 1 }],
    });
    const weightFiles = new Map<string, string>();
    for (const [file, loc] of this.files) weightFiles.set(loc, file);
    return { proto, weightFiles };
  }

  private externalInit(ref: WeightRef): string {
    let loc = this.files.get(ref.file);
    if (!loc) {
      loc = `w${this.files.size}.safetensors`;
      this.files.set(ref.file, loc);
    }
    const name = ref.key;
    if (!this.inits.some((t) => t.name === name)) {
      this.inits.push(onnx.TensorProto.create({
        name,
        dims: ref.shape,
        dataType: ST_DT[ref.dtype],
        dataLocation: onnx.TensorProto.DataLocation.EXTERNAL,
        externalData: [
          { key: 'location', value: loc },
          { key: 'offset', value: String(ref.offset) },
          { key: 'length', value: String(ref.byteLength) },
        ],
      }));
    }
    return name;
  }
}

export function encodeModel(proto: OnnxTypes.ModelProto): Uint8Array {
  return onnx.ModelProto.encode(proto).finish();
}

function valueInfo(name: string, type: ElemType, dims: Dim[]): OnnxTypes.IValueInfoProto {
  return onnx.ValueInfoProto.create({
    name,
    type: { tensorType: { elemType: ELEM[type], shape: { dim: dims.map((d) => (typeof d === 'string' ? { dimParam: d } : { dimValue: d })) } } },
  });
}

function node(type: string, inputs: string[], outputs: string[], attrs: Attrs, name: string, domain?: string): OnnxTypes.INodeProto {
  const attribute: OnnxTypes.IAttributeProto[] = [];
  for (const [k, v] of Object.entries(attrs)) {
    if (typeof v === 'number') {
      attribute.push(Number.isInteger(v) ? { name: k, type: AT.INT, i: v } : { name: k, type: AT.FLOAT, f: v });
    } else if (typeof v === 'string') {
      attribute.push({ name: k, type: AT.STRING, s: new TextEncoder().encode(v) });
    } else if (Array.isArray(v)) {
      attribute.push({ name: k, type: AT.INTS, ints: v });
    } else if ('float' in v) {
      attribute.push({ name: k, type: AT.FLOAT, f: v.float });
    } else if ('floats' in v) {
      attribute.push({ name: k, type: AT.FLOATS, floats: v.floats });
    } else {
      attribute.push({ name: k, type: AT.INT, i: v.int });
    }
  }
  return onnx.NodeProto.create({ opType: type, input: inputs, output: outputs, attribute, name, domain: domain ?? '' });
}
