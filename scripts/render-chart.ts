/**
 * `helm template` stand-in: renders charts/fooocus-cloud with scripts/helm-render and prints
 * the manifests as YAML documents (see that folder for what is and isn't Helm-faithful).
 *
 *   node --import tsx scripts/render-chart.ts [-f values.yaml]... [--api-versions G/V]...
 *        [--release NAME] [--namespace NS] [--notes] [CHART_DIR]
 */
import { stringify } from 'yaml';
import { renderChart } from './helm-render/renderChart.ts';

function main(argv: string[]): void {
  const valuesFiles: string[] = [];
  const apiVersions: string[] = [];
  let chartDir = 'charts/fooocus-cloud';
  let releaseName = 'fooocus';
  let namespace = 'default';
  let notes = false;
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === '-f' || a === '--values') valuesFiles.push(argv[++i]);
    else if (a === '--api-versions') apiVersions.push(argv[++i]);
    else if (a === '--release') releaseName = argv[++i];
    else if (a === '--namespace' || a === '-n') namespace = argv[++i];
    else if (a === '--notes') notes = true;
    else if (a.startsWith('-')) throw new Error(`unknown option ${a}`);
    else chartDir = a;
  }
  const out = renderChart({ chartDir, valuesFiles, apiVersions, releaseName, namespace });
  for (const m of out.manifests) {
    process.stdout.write(`---\n# Source: ${m.template}\n${stringify(m.object, { version: '1.1' })}`);
  }
  if (notes) process.stdout.write(`\nNOTES:\n${out.notes}\n`);
}

try {
  main(process.argv.slice(2));
} catch (e) {
  process.stderr.write(`Error: ${(e as Error).message}\n`);
  process.exit(1);
}
