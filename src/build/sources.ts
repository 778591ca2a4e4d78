/**
 * Resolves the `src` of each allotment to concrete files: paths are relative to the
 * descriptor's own folder (not the working directory), a directory is added recursively,
 * and a glob pattern adds every file it matches.
 */
import { statSync } from "node:fs";
import { readdir, stat } from "node:fs/promises";
import { isAbsolute, join, relative, resolve, sep } from "node:path";
import type { AllotmentSpec } from "../field/descriptor-file.ts";

/** One source file and where it lands in the image. */
export interface SourceFile {
  src: string;
  dst: string;
  size: number;
  executable: boolean;
  /** Identity for the stat cache: an unchanged tuple means unchanged content. */
  statKey: string;
}

/** An allotment with its files resolved. */
export interface ResolvedAllotment {
  spec: AllotmentSpec;
  files: SourceFile[];
}

/** A source that cannot be used; the message names the entry. */
export class SourceError extends Error {
  override name = "SourceError";
}

const GLOB_CHARS = /[*?[\]{}]/;

/** Resolves every allotment's sources and checks that no two files land on one path. */
export async function resolveSources(allotments: AllotmentSpec[], baseDir: string, fileName = "2dfs.json"): Promise<ResolvedAllotment[]> {
  const entryName = (spec: AllotmentSpec) => `${fileName} ${describeEntry(spec)}`;
  const resolved: ResolvedAllotment[] = [];
  const owners = new Map<string, string>();
  for (const spec of allotments) {
    const files: SourceFile[] = [];
    for (let i = 0; i < spec.src.length; i++) {
      const found = await expandSource(spec, spec.src[i]!, spec.dst[i]!, baseDir, entryName);
      for (const file of found) {
        const where = `${entryName(spec)} (${file.src})`;
        const previous = owners.get(file.dst);
        if (previous) throw new SourceError(`${where} and ${previous} both write ${file.dst}`);
        owners.set(file.dst, where);
        files.push(file);
      }
    }
    resolved.push({ spec, files });
  }
  checkFileDirectoryClashes(owners);
  return resolved;
}

/** "entry 3 (row 1, col 0)" */
export function describeEntry(spec: AllotmentSpec): string {
  return `entry ${spec.entry} (row ${spec.row}, col ${spec.col})`;
}

async function expandSource(
  spec: AllotmentSpec,
  src: string,
  dst: string,
  baseDir: string,
  entryName: (spec: AllotmentSpec) => string,
): Promise<SourceFile[]> {
  const dstIsDir = dst.endsWith("/");
  const dstBase = dstIsDir ? dst.slice(0, -1) : dst;
  if (GLOB_CHARS.test(src)) {
    const matches = await expandGlob(src, baseDir);
    if (matches.length === 0) throw new SourceError(`${entryName(spec)}: pattern "${src}" matches no file in ${baseDir}`);
    if (!dstIsDir && matches.length > 1) {
      throw new SourceError(`${entryName(spec)}: pattern "${src}" matches ${matches.length} files, so dst "${dst}" must end with "/"`);
    }
    return Promise.all(
      matches.map(({ path, rel }) => describeFile(path, dstIsDir ? joinDst(dstBase, rel) : dst, entryName(spec), src)),
    );
  }
  const path = isAbsolute(src) ? src : resolve(baseDir, src);
  const info = statSync(path, { throwIfNoEntry: false });
  if (!info) throw new SourceError(`${entryName(spec)}: source "${src}" not found (looked for ${path})`);
  if (info.isDirectory()) {
    const files = await walk(path);
    if (files.length === 0) throw new SourceError(`${entryName(spec)}: directory "${src}" contains no files`);
    return Promise.all(files.map((f) => describeFile(f, joinDst(dstBase, relative(path, f)), entryName(spec), src)));
  }
  if (!info.isFile()) throw new SourceError(`${entryName(spec)}: source "${src}" is not a regular file or directory`);
  const target = dstIsDir ? joinDst(dstBase, path.slice(path.lastIndexOf(sep) + 1)) : dst;
  return [await describeFile(path, target, entryName(spec), src)];
}

async function describeFile(path: string, dst: string, where: string, src: string): Promise<SourceFile> {
  // Synchronous on purpose: a stat is ~2 us, while each await of the async one costs a
  // thread-pool round trip, and a rebuild with nothing changed is mostly stats.
  const info = statSync(path, { bigint: true, throwIfNoEntry: false });
  if (!info) throw new SourceError(`${where}: source "${src}" not found (looked for ${path})`);
  if (!info.isFile()) throw new SourceError(`${where}: "${path}" is not a regular file`);
  return {
    src: path,
    dst,
    size: Number(info.size),
    executable: (Number(info.mode) & 0o111) !== 0,
    statKey: [info.dev, info.ino, info.size, info.mtimeNs, info.ctimeNs, info.mode].join(":"),
  };
}

function joinDst(base: string, rel: string): string {
  return `${base}/${rel.split(sep).join("/")}`;
}

// Depth-first listing of regular files (symlinks to files are followed; to directories, not).
async function walk(dir: string): Promise<string[]> {
  const out: string[] = [];
  const entries = await readdir(dir, { withFileTypes: true });
  entries.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  for (const entry of entries) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) out.push(...(await walk(path)));
    else if (entry.isFile()) out.push(path);
    else if (entry.isSymbolicLink() && (await stat(path).catch(() => undefined))?.isFile()) out.push(path);
  }
  return out;
}

// Matches relative to the descriptor folder; a match lands at dst + its path below the
// pattern's fixed prefix (`data/**/*.bin` -> dst/<below data/>).
async function expandGlob(pattern: string, baseDir: string): Promise<{ path: string; rel: string }[]> {
  const parts = pattern.split("/");
  const fixed: string[] = [];
  for (const part of parts) {
    if (GLOB_CHARS.test(part)) break;
    fixed.push(part);
  }
  const root = resolve(baseDir, fixed.join("/") || ".");
  const rest = parts.slice(fixed.length).join("/");
  const glob = new Bun.Glob(rest);
  const out: { path: string; rel: string }[] = [];
  const exists = await stat(root).catch(() => undefined);
  if (!exists?.isDirectory()) return out;
  for await (const rel of glob.scan({ cwd: root, onlyFiles: true, dot: false, followSymlinks: false })) {
    out.push({ path: join(root, rel), rel });
  }
  out.sort((a, b) => (a.rel < b.rel ? -1 : a.rel > b.rel ? 1 : 0));
  return out;
}

// A path used as a file by one allotment and as a directory by another cannot both exist.
function checkFileDirectoryClashes(owners: Map<string, string>): void {
  for (const [dst, owner] of owners) {
    for (let cut = dst.lastIndexOf("/"); cut > 0; cut = dst.lastIndexOf("/", cut - 1)) {
      const parent = dst.slice(0, cut);
      const other = owners.get(parent);
      if (other) throw new SourceError(`${other} writes the file ${parent}, but ${owner} needs it to be a directory`);
    }
  }
}
