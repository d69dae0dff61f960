/**
 * RRDBNet (ESRGAN, old arch) as an ONNX graph, layer for layer as
 * ldm_patched/pfn/architecture/RRDB.py runs it:
 *
 *   fea   = conv_first(x)
 *   trunk = fea + trunk_conv(RRDB_nb(…RRDB_1(fea)))
 *   RRDB(x) = RDB3(RDB2(RDB1(x)))·0.2 + x
 *   RDB(x):  x_k = lrelu(conv_k([x, x_1 … x_{k−1}])) for k < 5, x_5 = conv_5([x … x_4]); x_5·0.2 + x
 *   per ×2 stage: nearest ×2, conv, lrelu;  then HR conv, lrelu, last conv
 *
 * LeakyReLU slope 0.2 throughout. No clamp here: perform_upscale clamps the
 * blended result, not each tile. Input and output are NCHW in [0,1]-ish
 * values with free height and width, so one graph serves every tile size.
 * Weights are external data named by their (renamed) checkpoint keys; fp16
 * graphs keep the file's F16 weights, fp32 graphs cast them at load.
 */
import { GraphBuilder, type BuiltModel, type ComputeType } from '../onnx/graphBuilder.ts';
import { conv2d, upsampleNearest2x } from '../onnx/layers.ts';
import type { WeightSource } from '../onnx/weightSource.ts';
import type { EsrganConfig } from './esrganConfig.ts';

export const ESRGAN_INPUT = 'image';
export const ESRGAN_OUTPUT = 'upscaled';

const LEAKY_SLOPE = 0.2;
const RESIDUAL_SCALE = 0.2;

export interface EsrganGraphOptions {
  weights: WeightSource;
  config: EsrganConfig;
  compute: ComputeType;
}

export function buildEsrganGraph(opts: EsrganGraphOptions): BuiltModel {
  const { config } = opts;
  const g = new GraphBuilder('esrgan', opts.compute, opts.weights);
  const x = g.input(ESRGAN_INPUT, opts.compute, [1, config.inChannels, 'height', 'width']);
  const residualScale = g.constScalar(RESIDUAL_SCALE, 'residual_scale');
  const lrelu = (v: string) => g.op('LeakyRelu', [v], { alpha: { float: LEAKY_SLOPE } });

  const denseBlock = (input: string, prefix: string): string => {
    const features = [input];
    for (let k = 1; k <= 5; k++) {
      // A copy: the builder keeps the inputs array it is given, and `features` grows.
      const cat = features.length === 1 ? input : g.op('Concat', [...features], { axis: 1 });
      const y = conv2d(g, cat, `${prefix}.conv${k}.0`);
      if (k === 5) return g.op('Add', [g.op('Mul', [y, residualScale]), input]);
      features.push(lrelu(y));
    }
    throw new Error('unreachable');
  };

  const fea = conv2d(g, x, 'model.0');
  let h = fea;
  for (let b = 0; b < config.blocks; b++) {
    let r = h;
    for (let d = 1; d <= 3; d++) r = denseBlock(r, `model.1.sub.${b}.RDB${d}`);
    h = g.op('Add', [g.op('Mul', [r, residualScale]), h]);
  }
  h = g.op('Add', [fea, conv2d(g, h, `model.1.sub.${config.blocks}`)]);
  for (const n of config.upsampleConvs) h = lrelu(conv2d(g, upsampleNearest2x(g, h), `model.${n}`));
  h = lrelu(conv2d(g, h, `model.${config.hrConv}`));
  const out = conv2d(g, h, `model.${config.lastConv}`);
  g.output(out, ESRGAN_OUTPUT, opts.compute, [1, config.outChannels, 'out_height', 'out_width']);
  return g.build();
}
