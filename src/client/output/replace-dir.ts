/**
 * Staging folders for pulls: everything is written into a fresh folder beside the target and
 * moved into the target only once complete and verified, so a failed pull leaves it as it was.
 * A staging folder's name carries the pid of the pull that owns it (`.DIR.2dfs-PID-RANDOM`): a
 * pull killed mid-way leaves it behind, and the next pull into the same DIR removes those whose
 * pid no longer runs. All metadata calls, made synchronously: microseconds each, where the first
 * asynchronous one would start Bun's fs thread pool (3-7 ms) at the end of every pull.
 */
import { lstatSync, mkdirSync, readdirSync, renameSync, rmSync, rmdirSync } from "node:fs";
import { basename, dirname, join, resolve } from "node:path";
import { isProcessAlive } from "../../util/process-alive.ts";

/** What committing did to the target folder. */
export type CommitOutcome = "created" | "merged" | "replaced";

const STAGING_INFIX = ".2dfs-";

/** Creates an empty staging folder on the same filesystem as `target` (so moves are renames), first removing stale ones of dead pulls. */
export async function createStagingDir(target: string): Promise<string> {
  const abs = resolve(target);
  mkdirSync(dirname(abs), { recursive: true });
  removeStaleStaging(abs);
  const staging = join(dirname(abs), `.${basename(abs)}${STAGING_INFIX}${process.pid}-${crypto.randomUUID().slice(0, 8)}`);
  mkdirSync(staging, { mode: 0o755 });
  return staging;
}

/** Removes `.TARGET.2dfs-PID-*` folders (staging, or a replaced target awaiting removal) whose PID is not a running process. */
function removeStaleStaging(abs: string): void {
  const prefix = `.${basename(abs)}${STAGING_INFIX}`;
  let names: string[];
  try {
    names = readdirSync(dirname(abs));
  } catch {
    return;
  }
  for (const name of names) {
    if (!name.startsWith(prefix)) continue;
    const match = /^(\d+)-[0-9a-f]{8}(-old)?$/.exec(name.slice(prefix.length));
    if (!match || isProcessAlive(Number(match[1]))) continue; // this process's own count as running
    const path = join(dirname(abs), name);
    if (!lstatSync(path, { throwIfNoEntry: false })?.isDirectory()) continue;
    rmSync(path, { recursive: true, force: true });
  }
}

/** The target's state before a commit: "absent" (missing or an empty folder), "folder" (has content), or "not-folder". */
export function targetState(target: string): "absent" | "folder" | "not-folder" {
  const info = lstatSync(resolve(target), { throwIfNoEntry: false });
  if (!info) return "absent";
  if (!info.isDirectory()) return "not-folder";
  return readdirSync(resolve(target)).length === 0 ? "absent" : "folder";
}

/**
 * Moves the staged tree into `target`: a rename when the target is missing or empty; with
 * `replace`, the target's content is swapped for the staged tree (two renames, the old content
 * removed after); else a merge where staged entries replace what is in the way (never
 * following a symlink of the target).
 */
export async function commitStagingDir(staging: string, target: string, opts: { replace?: boolean } = {}): Promise<CommitOutcome> {
  const abs = resolve(target);
  let info = lstatSync(abs, { throwIfNoEntry: false });
  if (info?.isDirectory() && readdirSync(abs).length === 0) {
    rmdirSync(abs);
    info = undefined;
  }
  if (!info) {
    renameSync(staging, abs);
    return "created";
  }
  if (!info.isDirectory()) throw new Error(`${target} exists and is not a folder`);
  if (opts.replace) {
    // The old content gets a name the next pull would clean up should this one die right here.
    const old = `${staging}-old`;
    renameSync(abs, old);
    try {
      renameSync(staging, abs);
    } catch (error) {
      renameSync(old, abs);
      throw error;
    }
    rmSync(old, { recursive: true, force: true });
    return "replaced";
  }
  merge(staging, abs);
  rmSync(staging, { recursive: true, force: true });
  return "merged";
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
