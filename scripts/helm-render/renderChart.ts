/**
 * `helm template` for one chart without helm: loads Chart.yaml and values.yaml, merges the
 * given values files over them the way Helm coalesces values (maps merge deeply, a null
 * removes a default), validates the result against values.schema.json, builds the objects
 * templates see (.Values, .Release, .Chart, .Capabilities, .Files, .Template), renders every
 * file under templates/ (files starting with `_` only contribute `define`s; NOTES.txt is
 * rendered apart), strips Helm's `<no value>` marker, splits the output into YAML documents
 * and parses them as Kubernetes would (YAML 1.1, duplicate keys rejected).
 *
 * What it does not do: subcharts and dependencies (this chart has none), `.helmignore`,
 * `lookup` against a cluster (it returns an empty map, as `helm template` does), and the
 * Sprig functions not listed in helmFunctions.ts (using one is a parse error).
 */
import { readdirSync, readFileSync, statSync, existsSync } from 'node:fs';
import { join, relative, sep } from 'node:path';
import { Ajv, type ValidateFunction } from 'ajv';
import { parseAllDocuments, parse as parseYaml } from 'yaml';
import { TemplateSet } from './goTemplateExec.ts';
import { GoStruct, isMap, type GoMap, type GoValue } from './goValues.ts';
import { helmFunctions } from './helmFunctions.ts';

export interface RenderOptions {
  chartDir: string;
  /** Values files merged over values.yaml in order (like repeated `-f`). */
  valuesFiles?: string[];
  /** Values merged last (like `--set`, but structured). */
  values?: GoMap;
  releaseName?: string;
  namespace?: string;
  /** Extra API versions the cluster serves (`--api-versions`), e.g. "monitoring.coreos.com/v1". */
  apiVersions?: string[];
  /** Default v1.31.0. */
  kubeVersion?: string;
  isUpgrade?: boolean;
}

export interface RenderedManifest {
  /** Template file the document came from, e.g. fooocus-cloud/templates/api-deployment.yaml. */
  template: string;
  object: Record<string, any>;
}

export interface RenderedChart {
  manifests: RenderedManifest[];
  notes: string;
  values: GoMap;
  /** Raw output per template file, after `<no value>` stripping. */
  files: Map<string, string>;
}

export class ChartRenderError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ChartRenderError';
  }
}

/**
 * The group/versions `helm template` assumes without a cluster (chartutil.DefaultVersionSet
 * is every version the Kubernetes client scheme knows; these are the ones charts test for).
 */
export const DEFAULT_API_VERSIONS = [
  'v1',
  'apps/v1',
  'batch/v1',
  'autoscaling/v1',
  'autoscaling/v2',
  'policy/v1',
  'networking.k8s.io/v1',
  'rbac.authorization.k8s.io/v1',
  'storage.k8s.io/v1',
  'scheduling.k8s.io/v1',
  'coordination.k8s.io/v1',
  'discovery.k8s.io/v1',
  'apiextensions.k8s.io/v1',
  'admissionregistration.k8s.io/v1',
  'certificates.k8s.io/v1',
  'events.k8s.io/v1',
  'node.k8s.io/v1',
];

/** YAML text to Go values as Helm holds them: every number a float64 (JS number). */
export function parseValuesYaml(text: string, file: string): GoMap {
  let data: unknown;
  try {
    data = parseYaml(text, { version: '1.1', uniqueKeys: true, intAsBigInt: false }) ?? {};
  } catch (e) {
    throw new ChartRenderError(`${file}: ${(e as Error).message}`);
  }
  if (!isMap(data as GoValue)) throw new ChartRenderError(`${file}: values must be a map`);
  return data as GoMap;
}

/** chartutil.CoalesceTables: src (user) over dst (defaults); null deletes the default key. */
export function coalesceValues(defaults: GoMap, overrides: GoMap): GoMap {
  const out: GoMap = structuredClone(defaults);
  for (const [k, v] of Object.entries(overrides)) {
    if (v === null) {
      delete out[k];
    } else if (isMap(v) && isMap(out[k] ?? null)) {
      out[k] = coalesceValues(out[k] as GoMap, v);
    } else {
      out[k] = structuredClone(v);
    }
  }
  return out;
}

function listFiles(dir: string): string[] {
  const out: string[] = [];
  for (const name of readdirSync(dir).sort()) {
    const p = join(dir, name);
    if (statSync(p).isDirectory()) out.push(...listFiles(p));
    else out.push(p);
  }
  return out;
}

function chartMetadata(chart: Record<string, unknown>): GoStruct {
  const g = (k: string, d: GoValue = ''): GoValue => (chart[k] as GoValue) ?? d;
  return new GoStruct('*chart.Metadata', {
    Name: g('name'),
    Home: g('home'),
    Sources: g('sources', null),
    Version: g('version'),
    Description: g('description'),
    Keywords: g('keywords', null),
    Maintainers: g('maintainers', null),
    Icon: g('icon'),
    APIVersion: g('apiVersion'),
    Condition: g('condition'),
    Tags: g('tags'),
    AppVersion: g('appVersion'),
    Deprecated: g('deprecated', false),
    Annotations: g('annotations', null),
    KubeVersion: g('kubeVersion'),
    Dependencies: g('dependencies', null),
    Type: g('type'),
  });
}

const schemaCache = new Map<string, ValidateFunction>();

/** Compiling the schema is most of a render's cost; the compiled validator is reused per text. */
function compiledSchema(text: string): ValidateFunction {
  let v = schemaCache.get(text);
  if (!v) {
    v = new Ajv({ allErrors: true, strict: true, allowUnionTypes: true }).compile(JSON.parse(text));
    schemaCache.set(text, v);
  }
  return v;
}

export function renderChart(opts: RenderOptions): RenderedChart {
  const chartDir = opts.chartDir;
  const chart = parseYaml(readFileSync(join(chartDir, 'Chart.yaml'), 'utf8')) as Record<string, unknown>;
  if (chart.apiVersion !== 'v2') throw new ChartRenderError('Chart.yaml: apiVersion must be v2');
  if (!chart.name || !chart.version) throw new ChartRenderError('Chart.yaml: name and version are required');
  if (!/^\d+\.\d+\.\d+(-[0-9A-Za-z.-]+)?(\+[0-9A-Za-z.-]+)?$/.test(String(chart.version))) {
    throw new ChartRenderError(`Chart.yaml: version ${String(chart.version)} is not SemVer 2`);
  }
  const chartName = String(chart.name);

  let values = parseValuesYaml(readFileSync(join(chartDir, 'values.yaml'), 'utf8'), 'values.yaml');
  for (const f of opts.valuesFiles ?? []) values = coalesceValues(values, parseValuesYaml(readFileSync(f, 'utf8'), f));
  if (opts.values) values = coalesceValues(values, structuredClone(opts.values));

  const schemaPath = join(chartDir, 'values.schema.json');
  if (existsSync(schemaPath)) {
    const validate = compiledSchema(readFileSync(schemaPath, 'utf8'));
    if (!validate(values)) {
      const lines = (validate.errors ?? []).map((e) => {
        const where = e.instancePath || '(root)';
        const extra = e.keyword === 'additionalProperties' ? `: ${String((e.params as { additionalProperty: string }).additionalProperty)}` : '';
        return `- ${where}: ${e.message}${extra}`;
      });
      throw new ChartRenderError(`values don't meet the specifications of the schema(s) in the following chart(s):\n${chartName}:\n${lines.join('\n')}`);
    }
  }

  const apiVersions = new Set([...DEFAULT_API_VERSIONS, ...(opts.apiVersions ?? [])]);
  const kubeVersion = opts.kubeVersion ?? 'v1.31.0';
  const [major, minor] = kubeVersion.replace(/^v/, '').split('.');
  const files = new Map<string, string>();
  const chartFiles = listFiles(chartDir)
    .map((p) => relative(chartDir, p).split(sep).join('/'))
    .filter((p) => !p.startsWith('templates/') && !p.startsWith('charts/') && !['Chart.yaml', 'values.yaml', 'values.schema.json'].includes(p));

  const top = (templateName: string): GoMap => ({
    Values: values,
    Release: {
      Name: opts.releaseName ?? 'release-name',
      Namespace: opts.namespace ?? 'default',
      IsInstall: !opts.isUpgrade,
      IsUpgrade: !!opts.isUpgrade,
      Revision: opts.isUpgrade ? 2n : 1n,
      Service: 'Helm',
    },
    Chart: chartMetadata(chart),
    Capabilities: new GoStruct('*chartutil.Capabilities', {
      KubeVersion: new GoStruct('chartutil.KubeVersion', { Version: kubeVersion, Major: major, Minor: minor, GitVersion: kubeVersion }),
      APIVersions: new GoStruct('chartutil.VersionSet', {}, { Has: (v) => typeof v === 'string' && apiVersions.has(v) }),
      HelmVersion: new GoStruct('helmversion.BuildInfo', { Version: 'v3.16.0' }),
    }),
    Template: { Name: templateName, BasePath: `${chartName}/templates` },
    Files: new GoStruct('chart.Files', {}, {
      Get: (name) => {
        if (typeof name !== 'string' || !chartFiles.includes(name)) return '';
        return readFileSync(join(chartDir, name), 'utf8');
      },
    }),
  });

  const set = new TemplateSet(helmFunctions());
  const templateFiles = listFiles(join(chartDir, 'templates')).map((p) => ({
    name: `${chartName}/${relative(chartDir, p).split(sep).join('/')}`,
    src: readFileSync(p, 'utf8'),
  }));
  for (const t of templateFiles) set.add(t.name, t.src);

  const manifests: RenderedManifest[] = [];
  let notes = '';
  for (const t of templateFiles) {
    const base = t.name.split('/').pop()!;
    if (base.startsWith('_')) continue;
    let out: string;
    try {
      out = set.execute(t.name, top(t.name)).replaceAll('<no value>', '');
    } catch (e) {
      throw new ChartRenderError(`${t.name}: ${(e as Error).message}`);
    }
    if (base === 'NOTES.txt') {
      notes = out;
      continue;
    }
    files.set(t.name, out);
    for (const doc of parseAllDocuments(out, { version: '1.1', uniqueKeys: true })) {
      if (doc.errors.length) throw new ChartRenderError(`${t.name}: YAML parse error: ${doc.errors[0].message}\n${out}`);
      const obj = doc.toJS({ maxAliasCount: 0 });
      if (obj === null || obj === undefined) continue;
      if (typeof obj !== 'object' || Array.isArray(obj)) throw new ChartRenderError(`${t.name}: a document is not a map`);
      manifests.push({ template: t.name, object: obj });
    }
  }
  return { manifests, notes, values, files };
}
