/**
 * Golden `preprocessors` cases (golden-features README §8): Fooocus's
 * image-prompt preprocessors through the engine's own ports
 * (services/engine/preprocess/) against OpenCV 4.6.0 / Pillow output.
 *
 * Per image item and threshold pair: `canny_pyramid` — the u8 hint and its
 * float32 `.acc_edge`. Per image item: `cpds` — the hint and its debug
 * arrays `.cpds.blurred`, `.cpds.decolor_gray`, `.cpds.decolor_boost`. Per
 * resize entry: `resize_image` in the stated mode.
 *
 * Rule (`tolerances.fp32.preprocessors_u8`): exact against OpenCV; a port
 * passes at mean |Δ| ≤ 1 and ≥ 98 % of values within 8 LSB (figures parsed
 * from the rule's text, README §11 defaults otherwise). Every case line
 * notes its exact-match count, worst mean |Δ| and worst share within
 * 8 LSB, so a pass that is not exact is visible. `.acc_edge` is float32
 * and is held to float32 rounding (atol 1e-6).
 */
import { cannyPyramid } from '../preprocess/cannyPyramid.ts';
import { cpds } from '../preprocess/cpds.ts';
import { resizeImage, type ResizeMode } from '../preprocess/resizeImage.ts';
import type { U8Image } from '../preprocess/cvImage.ts';
import type { CaseChecks } from './caseChecks.ts';
import type { CaseRunner } from './caseRunner.ts';
import type { CaseFile, GoldenSet } from './goldenSet.ts';

interface PreprocessorSection {
  file: string;
  items: { name: string; hw?: [number, number]; thresholds: [number, number][] }[];
  resize?: { key: string; src: string; mode: number; width: number; height: number }[];
}

/** How close a port must come (README §11). */
interface PortRule {
  maxMeanAbs: number;
  lsb: number;
  minFractionWithin: number;
}

const DEFAULT_RULE: PortRule = { maxMeanAbs: 1, lsb: 8, minFractionWithin: 0.98 };
const ACC_EDGE_TOLERANCE = { atol: 1e-6 };

function portRule(set: GoldenSet): PortRule {
  const text = set.json.tolerances?.fp32?.preprocessors_u8;
  if (typeof text !== 'string') return DEFAULT_RULE;
  const mean = /mean\s*\|diff\|\s*<=\s*([\d.]+)/.exec(text);
  const within = /([\d.]+)\s*%\s*of pixels within\s*(\d+)\s*LSB/.exec(text);
  return {
    maxMeanAbs: mean ? Number(mean[1]) : DEFAULT_RULE.maxMeanAbs,
    lsb: within ? Number(within[2]) : DEFAULT_RULE.lsb,
    minFractionWithin: within ? Number(within[1]) / 100 : DEFAULT_RULE.minFractionWithin,
  };
}

/** Collects the figures of every u8 tensor of one case for its note. */
class U8Figures {
  exact = 0;
  count = 0;
  worstMean = 0;
  worstWithin = 1;

  constructor(
    private readonly checks: CaseChecks,
    private readonly rule: PortRule,
  ) {}

  compare(label: string, got: Uint8Array, want: Uint8Array): void {
    if (!this.checks.require(`${label} size`, got.length === want.length, `${got.length} values, expected ${want.length}`)) return;
    let exact = 0;
    let sum = 0;
    let within = 0;
    for (let i = 0; i < want.length; i++) {
      const d = Math.abs(got[i] - want[i]);
      if (d === 0) exact++;
      if (d <= this.rule.lsb) within++;
      sum += d;
    }
    const mean = sum / want.length;
    const fraction = within / want.length;
    this.exact += exact;
    this.count += want.length;
    this.worstMean = Math.max(this.worstMean, mean);
    this.worstWithin = Math.min(this.worstWithin, fraction);
    // Reports worst LSB and the share of differing values on the line; the verdict is the port rule below.
    this.checks.u8(label, got, want, { maxLsb: 255, maxFraction: 1 });
    this.checks.require(
      label,
      mean <= this.rule.maxMeanAbs && fraction >= this.rule.minFractionWithin,
      `mean |Δ| ${mean.toFixed(3)}, ${(fraction * 100).toFixed(2)}% within ${this.rule.lsb} LSB (allowed mean ≤ ${this.rule.maxMeanAbs}, ≥ ${(this.rule.minFractionWithin * 100).toFixed(0)}%)`,
    );
  }

  note(): void {
    this.checks.note(`exact ${this.exact}/${this.count}, mean |Δ| ${this.worstMean.toFixed(3)}, ${(this.worstWithin * 100).toFixed(2)}% within ${this.rule.lsb} LSB`);
  }
}

function image(file: CaseFile, name: string): U8Image {
  const [height, width, channels = 1] = file.shape(name);
  return { data: file.u8(name), width, height, channels };
}

export const runPreprocessorCases: CaseRunner = async (set, c) => {
  const section = set.section<PreprocessorSection>('preprocessors');
  const file = set.file(section.file);
  const rule = portRule(set);

  for (const item of section.items) {
    const input = image(file, `${item.name}.input_u8`);
    for (const [low, high] of item.thresholds) {
      const key = `${item.name}.pyracanny_${low}_${high}`;
      await c.check(key, (checks) => {
        const figures = new U8Figures(checks, rule);
        const got = cannyPyramid(input, low, high);
        figures.compare(key, got.edges.data, file.u8(key));
        if (file.has(`${key}.acc_edge`)) {
          const want = file.float32(`${key}.acc_edge`);
          const cmp = checks.float(`${key}.acc_edge`, got.accEdge.data, want, ACC_EDGE_TOLERANCE);
          let same = 0;
          for (let i = 0; i < Math.min(want.length, got.accEdge.data.length); i++) if (got.accEdge.data[i] === want[i]) same++;
          checks.note(`acc_edge bit-exact ${same}/${cmp.count}`);
        }
        figures.note();
      });
    }
    const key = `${item.name}.cpds`;
    if (!file.has(key)) continue;
    await c.check(key, (checks) => {
      const figures = new U8Figures(checks, rule);
      const got = cpds(input);
      figures.compare(key, got.hint.data, file.u8(key));
      const debug: [string, Uint8Array][] = [
        ['blurred', got.blurred.data],
        ['decolor_gray', got.decolorGray.data],
        ['decolor_boost', got.decolorBoost.data],
      ];
      for (const [suffix, data] of debug) if (file.has(`${key}.${suffix}`)) figures.compare(`${key}.${suffix}`, data, file.u8(`${key}.${suffix}`));
      figures.note();
    });
  }

  for (const entry of section.resize ?? []) {
    await c.check(entry.key, (checks) => {
      if (entry.mode !== 0 && entry.mode !== 1 && entry.mode !== 2) throw new Error(`resize mode ${entry.mode} is not one of Fooocus's 0, 1, 2`);
      const figures = new U8Figures(checks, rule);
      const got = resizeImage(image(file, entry.src), entry.width, entry.height, entry.mode as ResizeMode);
      checks.require('size', got.width === entry.width && got.height === entry.height, `${got.width}×${got.height}, expected ${entry.width}×${entry.height}`);
      figures.compare(entry.key, got.data, file.u8(entry.key));
      figures.note();
    });
  }
};
