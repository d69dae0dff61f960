/**
 * Golden `freeu` cases (golden-features README §7): FreeU_V2 on the base UNet.
 *
 * Per input case: the plain eps through the plain UNet, then for every
 * parameter set the eps through the FreeU variant exactly as the engine runs
 * it (`LoadedCheckpoint.unet` with `freeu`, one session whatever the values).
 * Where the set records a block's (h, skip) before and after the patch, the
 * patch alone (graphs/freeu.ts as a two-input graph, built in memory: it has
 * no weights) is checked on them too. Parameters, inputs and the tolerance
 * (`freeu_eps`) come from cases.json.
 */
import * as ort from 'onnxruntime-node';
import { buildFreeuPatchGraph, freeuInput, type FreeuParams } from '../graphs/freeu.ts';
import { encodeModel, GraphBuilder } from '../onnx/graphBuilder.ts';
import type { CaseRunner } from './caseRunner.ts';

interface FreeuSection {
  file: string;
  params: (FreeuParams & { name: string })[];
  cases: { case: number }[];
}

/** Output blocks whose debug tensors a set may record (README: blocks 0 and 6). */
const DEBUG_BLOCK = /^case(\d+)\.([^.]+)\.block(\d+)\.h_in$/;

export const runFreeuCases: CaseRunner = async (set, c) => {
  const section = set.section<FreeuSection>('freeu');
  const file = set.file(section.file);
  const tol = set.tolerance('freeu_eps');
  const tensor = (name: string) => ({ data: file.float32(name), dims: file.shape(name) });
  for (const item of section.cases) {
    const k = (name: string) => `case${item.case}.${name}`;
    const call = async (freeu?: FreeuParams) => {
      const model = await set.baseCheckpoint();
      return model.unet(tensor(k('x')), file.float32(k('t')), tensor(k('context')), tensor(k('y')), { freeu });
    };
    await c.check(`case${item.case} plain`, async (checks) => {
      checks.float(k('eps_plain'), await call(), file.float32(k('eps_plain')), tol);
    });
    for (const p of section.params) {
      await c.check(`case${item.case} ${p.name}`, async (checks) => {
        checks.float(k(`${p.name}.eps`), await call(p), file.float32(k(`${p.name}.eps`)), tol);
        const modelChannels = (await set.baseCheckpoint()).inspection.unet.modelChannels;
        for (const name of file.names()) {
          const m = DEBUG_BLOCK.exec(name);
          if (!m || Number(m[1]) !== item.case || m[2] !== p.name) continue;
          const block = (t: string) => `${k(p.name)}.block${m[3]}.${t}`;
          const out = await runPatch(modelChannels, tensor(block('h_in')), tensor(block('skip_in')), p);
          checks.float(block('h_out'), out.h, file.float32(block('h_out')), tol);
          checks.float(block('skip_out'), out.skip, file.float32(block('skip_out')), tol);
        }
      });
    }
  }
};

async function runPatch(modelChannels: number, h: { data: Float32Array; dims: number[] }, skip: { data: Float32Array; dims: number[] }, p: FreeuParams) {
  const g = new GraphBuilder('freeu_patch', 'float32');
  buildFreeuPatchGraph(g, h.dims[1], modelChannels);
  const session = await ort.InferenceSession.create(encodeModel(g.build().proto), { logSeverityLevel: 3 });
  try {
    const out = await session.run({
      h: new ort.Tensor('float32', h.data, h.dims),
      skip: new ort.Tensor('float32', skip.data, skip.dims),
      freeu: new ort.Tensor('float32', freeuInput(p), [4]),
    });
    return { h: out.h_out.data as Float32Array, skip: out.skip_out.data as Float32Array };
  } finally {
    await session.release();
  }
}
