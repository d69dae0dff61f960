/**
 * Writes a built graph to a directory that ORT can load.
 *
 * ORT refuses external-data locations that are absolute or escape the model
 * directory, so every weight file the graph points into gets a hard link in
 * that directory (same filesystem: no bytes copied). ORT also resolves
 * symbolic links and refuses those that leave the directory (checked with
 * onnxruntime-node 1.30), so where a hard link is impossible (the graph cache
 * on another filesystem than the models) the file is copied once, with
 * copy-on-write where the filesystem offers it. Keep the cache beside the
 * models to avoid that copy.
 */
import { constants, copyFileSync, linkSync, lstatSync, mkdirSync, realpathSync, renameSync, statSync, unlinkSync, writeFileSync, type Stats } from 'node:fs';
import { join } from 'node:path';
import { encodeModel, type BuiltModel } from './graphBuilder.ts';

export interface SavedModel {
  modelPath: string;
  links: { location: string; target: string; kind: 'hardlink' | 'copy' }[];
}

export function saveModel(built: BuiltModel, dir: string, fileName: string): SavedModel {
  mkdirSync(dir, { recursive: true });
  const links: SavedModel['links'] = [];
  for (const [location, target] of built.weightFiles) {
    const linkPath = join(dir, location);
    // A model file that is itself a symbolic link (common in model folders) is
    // resolved first: link(2) would hard-link the symlink, which ORT then refuses.
    links.push({ location, target, kind: linkWeightFile(realpathSync(target), linkPath) });
  }
  const modelPath = join(dir, fileName);
  // Write then rename, so a crash mid-write never leaves a half model that a later load trusts.
  const tmp = `${modelPath}.${process.pid}.tmp`;
  writeFileSync(tmp, encodeModel(built.proto));
  renameSync(tmp, modelPath);
  return { modelPath, links };
}

function linkWeightFile(target: string, linkPath: string): 'hardlink' | 'copy' {
  // lstat, not stat: a symbolic link left by an older layout must be replaced,
  // because ORT rejects it even though stat() would see the target's inode.
  const a = lstatOrNull(linkPath);
  if (a) {
    const b = statSync(target);
    if (!a.isSymbolicLink()) {
      if (a.ino === b.ino && a.dev === b.dev) return 'hardlink';
      if (a.size === b.size && a.mtimeMs >= b.mtimeMs) return 'copy';
    }
    unlinkSync(linkPath);
  }
  try {
    linkSync(target, linkPath);
    return 'hardlink';
  } catch {
    const tmp = `${linkPath}.${process.pid}.tmp`;
    copyFileSync(target, tmp, constants.COPYFILE_FICLONE);
    renameSync(tmp, linkPath);
    return 'copy';
  }
}

function lstatOrNull(path: string): Stats | null {
  try {
    return lstatSync(path);
  } catch {
    return null;
  }
}
