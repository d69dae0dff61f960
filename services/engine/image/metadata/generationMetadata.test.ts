import { describe, expect, it } from 'vitest';
import vectors from './fooocusMetadataVectors.json' with { type: 'json' };
import { a1111SchemeText, buildImageMetadata, fooocusSchemeText, type GenerationParameters } from './generationMetadata.ts';
import { pyFloatRepr, pyJsonDumps, pyPathStem, pyRepr, pyStrip } from './pythonLiterals.ts';

// fooocusMetadataVectors.json: what CPython prints running Fooocus' own code (see _generated_by).
type Case = (typeof vectors.cases)[number]['case'];

function parametersOf(c: Case): GenerationParameters {
  return {
    prompt: c.log_positive,
    negativePrompt: c.log_negative,
    promptExpansion: c.expansion,
    styles: c.styles,
    usedExpansion: c.use_expansion,
    performance: c.performance,
    steps: c.steps,
    width: c.width,
    height: c.height,
    guidanceScale: c.cfg,
    sharpness: c.sharpness,
    adm: { positive: c.adm[0], negative: c.adm[1], end: c.adm[2] },
    baseModel: { name: c.base, sha256: c.base_hash },
    refinerModel: c.refiner === 'None' ? null : { name: c.refiner, sha256: c.refiner_hash },
    refinerSwitch: c.refiner_switch,
    overwriteSwitch: c.overwrite_switch,
    refinerSwapMethod: c.swap,
    adaptiveCfg: c.adaptive_cfg,
    clipSkip: c.clip_skip,
    sampler: c.sampler,
    scheduler: c.scheduler,
    vae: c.vae,
    seed: BigInt(c.seed),
    freeu: c.freeu ? { b1: c.freeu[0], b2: c.freeu[1], s1: c.freeu[2], s2: c.freeu[3] } : null,
    loras: c.loras.map(([name, weight, sha256]) => ({ name: name as string, weight: weight as number, sha256: sha256 as string })),
    fullPrompt: c.full_prompt,
    fullNegativePrompt: c.full_negative,
    version: c.version,
    createdBy: 'created_by' in c ? (c.created_by as string) : undefined,
  };
}

describe('generation metadata, byte-exact with Fooocus meta_parser', () => {
  it.each(vectors.cases)('fooocus scheme JSON for case $case.name', (v) => {
    expect(fooocusSchemeText(parametersOf(v.case))).toBe(v.fooocus);
  });

  it.each(vectors.cases)('a1111 scheme text for case $case.name', (v) => {
    expect(a1111SchemeText(parametersOf(v.case))).toBe(v.a1111);
  });

  it('buildImageMetadata picks the scheme and carries the version as EXIF Software', () => {
    const p = parametersOf(vectors.cases[0].case);
    expect(buildImageMetadata(p, 'a1111')).toEqual({ scheme: 'a1111', parameters: vectors.cases[0].a1111, software: 'Fooocus v2.5.5' });
    expect(JSON.parse(buildImageMetadata(p, 'fooocus').parameters)).toMatchObject({ seed: '6289709461860950326', metadata_scheme: 'fooocus' });
  });

  it('keeps a sampler name Fooocus has no A1111 name for (even one that is an Object property)', () => {
    const p = parametersOf(vectors.cases[0].case);
    expect(a1111SchemeText({ ...p, sampler: 'constructor' })).toContain('Sampler: constructor,');
    expect(a1111SchemeText({ ...p, sampler: 'dpmpp_3m_sde_gpu' })).toContain('Sampler: dpmpp_3m_sde_gpu,');
  });
});

describe('python literals', () => {
  it('prints floats as Python repr does', () => {
    const cases: [number, string][] = [
      [4, '4.0'], [0.1, '0.1'], [1e-4, '0.0001'], [1e-5, '1e-05'], [1.5e-7, '1.5e-07'], [1e15, '1000000000000000.0'],
      [1e16, '1e+16'], [12345678901234567, '1.2345678901234568e+16'], [-2.5, '-2.5'], [-0, '-0.0'], [0, '0.0'], [123.456, '123.456'],
      [1e22, '1e+22'], [5e-324, '5e-324'], [0.30000000000000004, '0.30000000000000004'],
    ];
    for (const [x, s] of cases) expect(pyFloatRepr(x), String(x)).toBe(s);
  });

  it('reprs strings with Python quoting and json.dumps escapes like Python', () => {
    expect(pyRepr(['a', "it's", 'say "hi"', "both ' \""])).toBe(`['a', "it's", 'say "hi"', 'both \\' "']`);
    expect(pyRepr('tab\there\u00e9\u200b')).toBe("'tab\\there\u00e9\\u200b'");
    expect(pyJsonDumps({ b: 1, a: ['é\u007f', '🎨'] }, { sortKeys: true })).toBe('{"a": ["\\u00e9\\u007f", "\\ud83c\\udfa8"], "b": 1}');
    expect(pyJsonDumps('é\n', { ensureAscii: false })).toBe('"é\\n"');
  });

  it('strips Python whitespace and takes PurePosixPath stems', () => {
    expect(pyStrip('\x1c\u3000 x \n\ufeff')).toBe('x \n\ufeff');
    expect(['a/b.c.safetensors', 'Default (model)', '.hidden', 'a.', 'x/'].map(pyPathStem)).toEqual(['b.c', 'Default (model)', '.hidden', 'a.', 'x']);
  });
});
