/**
 * The images, without a Docker engine (none runs where CI runs): both Dockerfiles pass
 * dockerfile-utils' validator (the VS Code Docker extension's linter: syntax, flags,
 * instruction arguments) with no diagnostics, and the project's rules for them hold:
 * multi-stage, production dependencies only with onnxruntime-node's download skipped, a
 * non-root user, a health check, the README's entrypoint as CMD, the CUDA provider fetched at
 * build time into the folder onnxruntime-node loads from, and every COPY source present.
 */
import { existsSync, readFileSync, statSync } from 'node:fs';
import { createRequire } from 'node:module';
import { validate } from 'dockerfile-utils';
import { describe, expect, it } from 'vitest';
import { ENTRYPOINTS, ROOT } from './chartFixtures.ts';

interface Instruction {
  keyword: string;
  args: string;
  line: number;
}

interface Stage {
  from: string;
  name: string | null;
  instructions: Instruction[];
}

/** Instructions with line continuations joined, grouped into build stages. */
function parseDockerfile(text: string): { args: Map<string, string>; stages: Stage[] } {
  const instructions: Instruction[] = [];
  let buf = '';
  let start = 0;
  text.split('\n').forEach((raw, i) => {
    const line = raw.trim();
    if (!buf && (line === '' || line.startsWith('#'))) return;
    if (!buf) start = i + 1;
    if (line.endsWith('\\')) {
      buf += `${line.slice(0, -1)} `;
      return;
    }
    buf += line;
    const m = /^(\w+)\s+([\s\S]*)$/.exec(buf)!;
    instructions.push({ keyword: m[1].toUpperCase(), args: m[2].trim(), line: start });
    buf = '';
  });
  const args = new Map<string, string>();
  const stages: Stage[] = [];
  for (const ins of instructions) {
    if (ins.keyword === 'FROM') {
      const m = /^(\S+)(?:\s+AS\s+(\S+))?$/i.exec(ins.args)!;
      stages.push({ from: m[1], name: m[2] ?? null, instructions: [] });
    } else if (stages.length === 0 && ins.keyword === 'ARG') {
      const [k, v = ''] = ins.args.split('=');
      args.set(k, v.replace(/^"|"$/g, ''));
    } else if (stages.length) {
      stages[stages.length - 1].instructions.push(ins);
    }
  }
  return { args, stages };
}

const read = (f: string) => readFileSync(`${ROOT}${f}`, 'utf8');
const last = (s: Stage, keyword: string) => s.instructions.filter((i) => i.keyword === keyword).at(-1);
const all = (s: Stage, keyword: string) => s.instructions.filter((i) => i.keyword === keyword);

function expectRuntimeStage(stage: Stage, entrypoint: readonly string[]) {
  const user = last(stage, 'USER')?.args ?? 'root';
  expect(user, `${stage.name}: USER`).not.toMatch(/^(root|0)(:|$)/);
  expect(last(stage, 'HEALTHCHECK')?.args, `${stage.name}: HEALTHCHECK`).toMatch(/^--interval=\S+ .*CMD \[/);
  expect(JSON.parse(last(stage, 'CMD')!.args), `${stage.name}: CMD`).toEqual(entrypoint);
  // Sources for tsx, and nothing but production dependencies from the deps stage.
  const copies = all(stage, 'COPY').map((c) => c.args);
  expect(copies).toContain('services ./services');
  expect(copies.some((c) => /^--from=(deps|ort-cuda) \/app\/node_modules \.\/node_modules$/.test(c))).toBe(true);
}

function expectDepsStage(stage: Stage) {
  const env = all(stage, 'ENV').map((e) => e.args).join(' ');
  expect(env).toContain('ONNXRUNTIME_NODE_INSTALL=skip');
  expect(env).toContain('NODE_ENV=production');
  const run = all(stage, 'RUN').map((r) => r.args).join(' ');
  expect(run).toMatch(/npm ci --omit=dev/);
  expect(run).toContain('prune-onnxruntime');
}

function expectCopySourcesExist(stages: Stage[]) {
  for (const s of stages) {
    for (const c of all(s, 'COPY')) {
      if (c.args.startsWith('--from=')) continue;
      const parts = c.args.split(/\s+/).filter((p) => !p.startsWith('--'));
      for (const src of parts.slice(0, -1)) expect(existsSync(`${ROOT}${src}`), `COPY source ${src} (line ${c.line})`).toBe(true);
    }
  }
}

describe('Dockerfile lint (dockerfile-utils)', () => {
  for (const f of ['Dockerfile.api', 'Dockerfile.worker']) {
    it(`${f} has no diagnostics`, () => {
      expect(validate(read(f)).map((d) => `${d.range.start.line + 1}: ${d.message}`)).toEqual([]);
    });
  }
});

describe('Dockerfile.api', () => {
  const { args, stages } = parseDockerfile(read('Dockerfile.api'));
  it('is multi-stage on an LTS (even-numbered) Node line', () => {
    expect(stages.map((s) => s.name)).toEqual(['deps', 'runtime']);
    expect(Number(args.get('NODE_VERSION')) % 2).toBe(0);
    expect(Number(args.get('NODE_VERSION'))).toBeGreaterThanOrEqual(22);
    for (const s of stages) expect(s.from).toBe('node:${NODE_VERSION}-bookworm-slim');
  });
  it('installs production dependencies only, skipping the onnxruntime CUDA download', () => expectDepsStage(stages[0]));
  it('runs the README’s API command as a non-root user with a health check', () => expectRuntimeStage(stages[1], ENTRYPOINTS.api));
  it('copies only files that exist', () => expectCopySourcesExist(stages));
});

describe('Dockerfile.worker', () => {
  const { args, stages } = parseDockerfile(read('Dockerfile.worker'));
  const byName = (n: string) => stages.find((s) => s.name === n)!;

  it('has cpu and cuda targets, cuda last (the default), on a CUDA 12 cuDNN runtime base', () => {
    expect(stages.map((s) => s.name)).toEqual(['deps', 'ort-cuda', 'cpu', 'node-bin', 'cuda']);
    expect(byName('cuda').from).toBe('${CUDA_IMAGE}');
    expect(args.get('CUDA_IMAGE')).toMatch(/^nvidia\/cuda:12\.\d+\.\d+-cudnn-runtime-ubuntu\d+\.\d+$/);
  });

  it('installs production dependencies only, skipping the onnxruntime CUDA download', () => expectDepsStage(byName('deps')));

  it('fetches the CUDA provider at build time and checks its libraries resolve in the CUDA image', () => {
    expect(all(byName('ort-cuda'), 'RUN').map((r) => r.args).join(' ')).toContain('fetch-ort-cuda /app/node_modules');
    const cudaRuns = all(byName('cuda'), 'RUN').map((r) => r.args).join(' ');
    expect(cudaRuns).toContain('check-cuda-libs /app/node_modules');
    expect(all(byName('cuda'), 'COPY').map((c) => c.args)).toContain('--from=ort-cuda /app/node_modules ./node_modules');
    expect(all(byName('cpu'), 'COPY').map((c) => c.args)).toContain('--from=deps /app/node_modules ./node_modules');
  });

  it('fetch-ort-cuda.sh targets the folder and files onnxruntime-node itself installs the CUDA provider to', () => {
    const require = createRequire(import.meta.url);
    const ortDir = `${ROOT}node_modules/onnxruntime-node`;
    const meta = require(`${ortDir}/script/install-metadata.js`) as {
      manifests: Record<string, Record<string, { package: string }>>;
      packages: Record<string, { name: string; versions: { version: string }[] }>;
    };
    const manifest = meta.manifests['linux/x64:cuda12'];
    expect(Object.keys(manifest)).toEqual(expect.arrayContaining(['./libonnxruntime_providers_cuda.so', './libonnxruntime_providers_shared.so']));
    const pkg = meta.packages[manifest['./libonnxruntime_providers_cuda.so'].package];
    const ortVersion = (JSON.parse(readFileSync(`${ortDir}/package.json`, 'utf8')) as { version: string }).version;
    expect(pkg.name).toBe('Microsoft.ML.OnnxRuntime.Gpu.Linux');
    expect(pkg.versions.map((v) => v.version)).toContain(ortVersion);
    expect(existsSync(`${ortDir}/bin/napi-v6/linux/x64/libonnxruntime.so.1`)).toBe(true);
    const script = read('scripts/docker/fetch-ort-cuda.sh');
    expect(script).toContain('ONNXRUNTIME_NODE_INSTALL=cuda12 node "$pkg/script/install.js"');
    expect(script).toContain('dest="$pkg/bin/napi-v6/linux/x64"');
  });

  for (const [target, provider] of [
    ['cpu', 'cpu'],
    ['cuda', 'cuda'],
  ] as const) {
    it(`${target} target runs the README’s worker command as a non-root user with a health check`, () => {
      expectRuntimeStage(byName(target), ENTRYPOINTS.worker);
      expect(all(byName(target), 'ENV').map((e) => e.args).join(' ')).toContain(`ENGINE_PROVIDER=${provider}`);
    });
  }

  it('copies only files that exist, and the helper scripts are executable', () => {
    expectCopySourcesExist(stages);
    for (const f of ['prune-onnxruntime.sh', 'fetch-ort-cuda.sh', 'check-cuda-libs.sh']) {
      expect(statSync(`${ROOT}scripts/docker/${f}`).mode & 0o111, f).not.toBe(0);
    }
  });
});

describe('.dockerignore', () => {
  it('keeps host node_modules and tests out of the build context but the build scripts in', () => {
    const lines = read('.dockerignore').split('\n');
    expect(lines).toEqual(expect.arrayContaining(['**/node_modules', '**/*.test.ts', 'scripts/*', '!scripts/docker']));
  });
});
