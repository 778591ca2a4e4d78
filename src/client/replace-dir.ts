/**
 * Staging folders for pulls: everything is written into a fresh folder beside the target and
 * moved into the target only once complete and verified, so a failed pull leaves it as it was.
 * All metadata calls, made synchronously: microseconds each, where the first asynchronous one
 * would start Bun's fs thread pool (3-7 ms) at the end of every pull.
 */
import { lstatSync, mkdirSync, readdirSync, renameSync, rmSync, rmdirSync } from "node:fs";
import { basename, dirname, join, resolve } from "node:path";

/** Creates an empty staging folder on the same filesystem as `target` (so moves are renames). */
export async function createStagingDir(target: string): Promise<string> {
  const abs = resolve(target);
  mkdirSync(dirname(abs), { recursive: true });
  const staging = join(dirname(abs), `.${basename(abs)}.2dfs-${process.pid}-${crypto.randomUUID().slice(0, 8)}`);
  mkdirSync(staging, { mode: 0o755 });
  return staging;
}

/**
 * Moves the staged tree into `target`: a rename when the target is missing or empty, else a merge
 * where staged entries replace what is in the way (never following a symlink of the target).
 */
export async function commitStagingDir(staging: string, target: string): Promise<void> {
  const abs = resolve(target);
  let info = lstatSync(abs, { throwIfNoEntry: false });
  if (info?.isDirectory() && readdirSync(abs).length === 0) {
    rmdirSync(abs);
    info = undefined;
  }
  if (!info) {
    renameSync(staging, abs);
    return;
  }
  if (!info.isDirectory()) throw new Error(`${target} exists and is not a folder`);
  merge(staging, abs);
  rmSync(staging, { recursive: true, force: true });
}

function merge(from: string, to: string): void {
  for (const name of readdirSync(from)) {
    const src = join(from, name);
    const dst = join(to, name);
    const s = lstatSync(src);
    const d = lstatSync(dst, { throwIfNoEntry: false });
    if (s.isDirectory() && d?.isDirectory()) {
      merge(src, dst);
      continue;
    }
    if (d) rmSync(dst, { recursive: true, force: true });
    renameSync(src, dst);
  }
}
