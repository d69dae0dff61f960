/**
 * On-disk cache of built ONNX graphs.
 *
 * Key: the weight file's content hash + graph name + compute type + builder
 * version (bump GRAPH_BUILDER_VERSION when any builder's output changes). A
 * directory holds one model.onnx and hard links to the weight files it
 * points into; `complete` is written last, so an interrupted build is simply
 * rebuilt. A hit costs two stat calls: the second load does not rebuild.
 */
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { BuiltModel } from '../onnx/graphBuilder.ts';
import { saveModel } from '../onnx/saveModel.ts';

export const GRAPH_BUILDER_VERSION = 1;

export interface CachedGraph {
  modelPath: string;
  /** True when this call built the graph (false on a cache hit). */
  built: boolean;
}

export function graphDir(cacheDir: string, contentHash: string, graph: string, variant: string): string {
  return join(cacheDir, 'graphs', contentHash.slice(0, 32), `${graph}-${variant}-v${GRAPH_BUILDER_VERSION}`);
}

export function ensureGraph(dir: string, build: () => BuiltModel): CachedGraph {
  const modelPath = join(dir, 'model.onnx');
  const marker = join(dir, 'complete');
  if (existsSync(marker) && existsSync(modelPath)) {
    const files = JSON.parse(readFileSync(marker, 'utf8')) as string[];
    if (files.every((f) => existsSync(join(dir, f)))) return { modelPath, built: false };
  }
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir, { recursive: true });
  const built = build();
  const saved = saveModel(built, dir, 'model.onnx');
  writeFileSync(marker, JSON.stringify(saved.links.map((l) => l.location)));
  return { modelPath: saved.modelPath, built: true };
}
