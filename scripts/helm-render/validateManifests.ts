/**
 * Validates rendered manifests without a cluster, in two passes:
 *
 * 1. Schema: each object is checked by the `kubernetes-models` class for its apiVersion/kind
 *    (the OpenAPI schemas of Kubernetes 1.3x compiled to validators; KEDA and the Prometheus
 *    Operator from their CRDs). Types, required fields, enums and formats are checked; an
 *    apiVersion/kind without a model is an error.
 * 2. Unknown fields: those validators accept fields the API does not have, which is exactly the
 *    typo a chart makes (`resources` one level too deep). The API server rejects them under
 *    strict field validation (kubectl's default), so this pass walks every object against the
 *    TypeScript interfaces the same packages ship (one type per OpenAPI definition) and reports
 *    any key the interface does not declare.
 *
 * Plus the naming rules the API server applies: object names are DNS-1123 subdomains, Service
 * names DNS-1035 labels, label keys and values in the label syntax.
 */
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import ts from 'typescript';

export interface ManifestProblem {
  object: string;
  message: string;
}

interface ModelInfo {
  /** Module that exports the model class and its interface, e.g. kubernetes-models/apps/v1/Deployment. */
  typeImport: string;
  /** The interface to walk for unknown fields, e.g. IDeployment. */
  typeName: string;
}

/** The repository root: node_modules there resolves the model packages for the TS program. */
const PROJECT_ROOT = fileURLToPath(new URL('../../', import.meta.url));

type ModelClass = new (d: unknown) => { validate(): void };
const loaded = new Map<string, ModelClass | null>();

/** apiVersion/kind → model location. Core groups live in kubernetes-models, CRDs in their packages. */
async function modelFor(apiVersion: string, kind: string): Promise<{ info: ModelInfo; cls: ModelClass } | null> {
  const crds: Record<string, string> = {
    'keda.sh/v1alpha1': '@kubernetes-models/keda/keda.sh/v1alpha1',
    'monitoring.coreos.com/v1': '@kubernetes-models/prometheus-operator/monitoring.coreos.com/v1',
  };
  const base = crds[apiVersion] ?? `kubernetes-models/${apiVersion}`;
  const module = `${base}/${kind}`;
  if (!/^[A-Za-z0-9./@-]+$/.test(module)) return null;
  if (!loaded.has(module)) {
    try {
      const mod = (await import(module)) as Record<string, ModelClass>;
      loaded.set(module, typeof mod[kind] === 'function' ? mod[kind] : null);
    } catch {
      loaded.set(module, null);
    }
  }
  const cls = loaded.get(module);
  return cls ? { info: { typeImport: module, typeName: `I${kind}` }, cls } : null;
}

const DNS1123_SUBDOMAIN = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;
const DNS1035_LABEL = /^[a-z]([-a-z0-9]*[a-z0-9])?$/;
const LABEL_NAME = /^([A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?)$/;
const LABEL_VALUE = /^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$/;

function checkLabels(labels: unknown, where: string, problems: string[]): void {
  if (!labels || typeof labels !== 'object') return;
  for (const [k, v] of Object.entries(labels as Record<string, unknown>)) {
    const [prefix, name] = k.includes('/') ? k.split('/', 2) : ['', k];
    if ((prefix && (prefix.length > 253 || !DNS1123_SUBDOMAIN.test(prefix))) || name.length > 63 || !LABEL_NAME.test(name)) {
      problems.push(`${where}: invalid label key ${JSON.stringify(k)}`);
    }
    if (typeof v !== 'string' || v.length > 63 || !LABEL_VALUE.test(v)) problems.push(`${where}: invalid label value ${JSON.stringify(v)} for ${k}`);
  }
}

function checkNames(obj: Record<string, any>, problems: string[]): void {
  const name: unknown = obj.metadata?.name;
  if (typeof name !== 'string' || name.length === 0) {
    problems.push('metadata.name is missing');
    return;
  }
  if (name.length > 253 || !DNS1123_SUBDOMAIN.test(name)) problems.push(`metadata.name ${JSON.stringify(name)} is not a DNS-1123 subdomain`);
  if (obj.kind === 'Service' && (name.length > 63 || !DNS1035_LABEL.test(name))) problems.push(`Service name ${JSON.stringify(name)} is not a DNS-1035 label`);
  checkLabels(obj.metadata?.labels, 'metadata.labels', problems);
  checkLabels(obj.spec?.template?.metadata?.labels, 'spec.template.metadata.labels', problems);
  checkLabels(obj.spec?.selector?.matchLabels, 'spec.selector.matchLabels', problems);
}

// ---------------------------------------------------------------------------------------------
// Unknown-field pass over the TypeScript declarations.

class FieldChecker {
  private readonly checker: ts.TypeChecker;
  private readonly types = new Map<string, ts.Type>();

  constructor(models: ModelInfo[]) {
    const root = join(PROJECT_ROOT, '__chart_types__.ts');
    const unique = [...new Map(models.map((m) => [m.typeImport, m])).values()];
    const source = [
      ...unique.map((m, i) => `import type { ${m.typeName} as T${i} } from ${JSON.stringify(m.typeImport)};`),
      `export interface All { ${unique.map((m, i) => `${JSON.stringify(m.typeImport)}: T${i};`).join(' ')} }`,
    ].join('\n');
    const options: ts.CompilerOptions = {
      module: ts.ModuleKind.NodeNext,
      moduleResolution: ts.ModuleResolutionKind.NodeNext,
      target: ts.ScriptTarget.ES2022,
      strict: true,
      noEmit: true,
      skipLibCheck: true,
      types: [],
    };
    const host = ts.createCompilerHost(options);
    const getSourceFile = host.getSourceFile.bind(host);
    host.getSourceFile = (fileName, lang, ...rest) =>
      fileName === root ? ts.createSourceFile(fileName, source, lang) : getSourceFile(fileName, lang, ...rest);
    const fileExists = host.fileExists.bind(host);
    host.fileExists = (f) => f === root || fileExists(f);
    const program = ts.createProgram([root], options, host);
    this.checker = program.getTypeChecker();
    const sf = program.getSourceFile(root)!;
    const diags = ts.getPreEmitDiagnostics(program, sf);
    if (diags.length) throw new Error(`model types did not resolve: ${ts.flattenDiagnosticMessageText(diags[0].messageText, '\n')}`);
    const allSym = this.checker.getExportsOfModule(this.checker.getSymbolAtLocation(sf)!).find((s) => s.name === 'All')!;
    const all = this.checker.getDeclaredTypeOfSymbol(allSym);
    for (const prop of this.checker.getPropertiesOfType(all)) this.types.set(prop.name, this.checker.getTypeOfSymbol(prop));
  }

  check(typeImport: string, value: unknown): string[] {
    const t = this.types.get(typeImport);
    if (!t) return [`no type for ${typeImport}`];
    const problems: string[] = [];
    this.walk(value, t, '', problems);
    return problems;
  }

  private objectMembers(t: ts.Type): ts.Type[] {
    const nn = this.checker.getNonNullableType(t);
    const parts = nn.isUnion() ? nn.types : [nn];
    return parts.filter((p) => (p.flags & ts.TypeFlags.Object) !== 0 || (p.flags & (ts.TypeFlags.Any | ts.TypeFlags.Unknown)) !== 0);
  }

  private walk(value: unknown, t: ts.Type, path: string, problems: string[]): void {
    if (value === null || typeof value !== 'object') return;
    const candidates = this.objectMembers(t);
    if (candidates.length === 0) return; // scalar type: the schema pass reports type errors
    if (candidates.some((c) => (c.flags & (ts.TypeFlags.Any | ts.TypeFlags.Unknown)) !== 0)) return;
    if (Array.isArray(value)) {
      const arr = candidates.find((c) => this.checker.isArrayType(c));
      if (!arr) return;
      const elem = this.checker.getTypeArguments(arr as ts.TypeReference)[0];
      value.forEach((v, i) => this.walk(v, elem, `${path}[${i}]`, problems));
      return;
    }
    const obj = candidates.find((c) => !this.checker.isArrayType(c));
    if (!obj) return;
    const index = this.checker.getIndexTypeOfType(obj, ts.IndexKind.String);
    const props = new Map(this.checker.getPropertiesOfType(obj).map((p) => [p.name, p]));
    if (props.size === 0 && !index) return; // free-form object (e.g. RawExtension)
    for (const [k, v] of Object.entries(value as Record<string, unknown>)) {
      const p = props.get(k);
      const where = path ? `${path}.${k}` : k;
      if (p) this.walk(v, this.checker.getTypeOfSymbol(p), where, problems);
      else if (index) this.walk(v, index, where, problems);
      else problems.push(`${where}: unknown field`);
    }
  }
}

// ---------------------------------------------------------------------------------------------

export interface ValidateOptions {
  /** Skip the TypeScript unknown-field pass (it costs about a second to set up). */
  skipUnknownFields?: boolean;
}

let cached: { imports: Set<string>; checker: FieldChecker } | null = null;

/** Kinds a chart commonly renders: typed up front so one TypeScript program serves them all. */
const COMMON_MODELS = [
  'kubernetes-models/apps/v1/Deployment',
  'kubernetes-models/apps/v1/StatefulSet',
  'kubernetes-models/v1/Service',
  'kubernetes-models/v1/Secret',
  'kubernetes-models/v1/ConfigMap',
  'kubernetes-models/v1/ServiceAccount',
  'kubernetes-models/v1/Pod',
  'kubernetes-models/v1/PersistentVolumeClaim',
  'kubernetes-models/batch/v1/Job',
  'kubernetes-models/policy/v1/PodDisruptionBudget',
  'kubernetes-models/autoscaling/v2/HorizontalPodAutoscaler',
  'kubernetes-models/networking.k8s.io/v1/Ingress',
  'kubernetes-models/networking.k8s.io/v1/NetworkPolicy',
  'kubernetes-models/rbac.authorization.k8s.io/v1/Role',
  'kubernetes-models/rbac.authorization.k8s.io/v1/RoleBinding',
  'kubernetes-models/rbac.authorization.k8s.io/v1/ClusterRole',
  'kubernetes-models/rbac.authorization.k8s.io/v1/ClusterRoleBinding',
  '@kubernetes-models/keda/keda.sh/v1alpha1/ScaledObject',
  '@kubernetes-models/prometheus-operator/monitoring.coreos.com/v1/ServiceMonitor',
];

/** One TypeScript program per process, rebuilt only when a kind outside the set shows up. */
function fieldCheckerFor(models: ModelInfo[]): FieldChecker {
  if (cached && models.every((m) => cached!.imports.has(m.typeImport))) return cached.checker;
  const byImport = new Map<string, ModelInfo>([...(cached?.imports ?? COMMON_MODELS)].map((i) => [i, modelForImport(i)]));
  for (const m of models) byImport.set(m.typeImport, m);
  cached = { imports: new Set(byImport.keys()), checker: new FieldChecker([...byImport.values()]) };
  return cached.checker;
}

function modelForImport(typeImport: string): ModelInfo {
  return { typeImport, typeName: `I${typeImport.split('/').pop()!}` };
}

export async function validateManifests(objects: Record<string, any>[], opts: ValidateOptions = {}): Promise<ManifestProblem[]> {
  const problems: ManifestProblem[] = [];
  const models = await Promise.all(objects.map((o) => modelFor(String(o.apiVersion), String(o.kind))));
  const fields = opts.skipUnknownFields ? null : fieldCheckerFor(models.flatMap((m) => (m ? [m.info] : [])));
  for (let i = 0; i < objects.length; i++) {
    const o = objects[i];
    const id = `${o.kind}/${o.metadata?.name ?? '?'}`;
    const m = models[i];
    if (!m) {
      problems.push({ object: id, message: `no schema for apiVersion ${o.apiVersion} kind ${o.kind}` });
      continue;
    }
    try {
      new m.cls(o).validate();
    } catch (e) {
      problems.push({ object: id, message: (e as Error).message });
    }
    if (fields) for (const p of fields.check(m.info.typeImport, o)) problems.push({ object: id, message: p });
    const names: string[] = [];
    checkNames(o, names);
    for (const n of names) problems.push({ object: id, message: n });
  }
  return problems;
}
