/**
 * Staging folders for pulls: everything is written into a fresh folder beside the target and
 * moved into the target only once complete and verified, so a failed pull leaves it as it was.
 */
import { lstat, mkdir, readdir, rename, rm, rmdir } from "node:fs/promises";
import { basename, dirname, join, resolve } from "node:path";

/** Creates an empty staging folder on the same filesystem as `target` (so moves are renames). */
export async function createStagingDir(target: string): Promise<string> {
  const abs = resolve(target);
  await mkdir(dirname(abs), { recursive: true });
  const staging = join(dirname(abs), `.${basename(abs)}.2dfs-${process.pid}-${crypto.randomUUID().slice(0, 8)}`);
  await mkdir(staging, { mode: 0o755 });
  return staging;
}

/**
 * Moves the staged tree into `target`: a rename when the target is missing or empty, else a merge
 * where staged entries replace what is in the way (never following a symlink of the target).
 */
export async function commitStagingDir(staging: string, target: string): Promise<void> {
  const abs = resolve(target);
  let info = await lstat(abs).catch(() => undefined);
  if (info?.isDirectory() && (await readdir(abs)).length === 0) {
    await rmdir(abs);
    info = undefined;
  }
  if (!info) {
    await rename(staging, abs);
    return;
  }
  if (!info.isDirectory()) throw new Error(`${target} exists and is not a folder`);
  await merge(staging, abs);
  await rm(staging, { recursive: true, force: true });
}

async function merge(from: string, to: string): Promise<void> {
  for (const name of await readdir(from)) {
    const src = join(from, name);
    const dst = join(to, name);
    const s = await lstat(src);
    const d = await lstat(dst).catch(() => undefined);
    if (s.isDirectory() && d?.isDirectory()) {
      await merge(src, dst);
      continue;
    }
    if (d) await rm(dst, { recursive: true, force: true });
    await rename(src, dst);
  }
}
