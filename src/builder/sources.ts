/**
 * Resolves the `src` of each allotment to concrete files: paths are relative to the
 * descriptor's own folder (not the working directory), a directory is added recursively,
 * and a glob pattern adds every file it matches.
 *
 * The descriptor's folder is the build context: by default nothing outside it is read, judged
 * after every symlink is resolved, so neither `../x`, an absolute path, a glob like `../../*`
 * nor a link to /etc/passwd can put host files into a layer. Inside a directory source a
 * symlink whose target stays in that directory is stored as a symlink (it works the same in
 * the image); one that leaves the directory is followed and its file copied, as long as the
 * file is in the context. `allowOutsideContext` lifts the context rule, nothing else.
 */
import { lstatSync, readlinkSync, realpathSync, statSync } from "node:fs";
import { readdir } from "node:fs/promises";
import { basename, dirname, isAbsolute, join, relative, resolve, sep } from "node:path";
import type { AllotmentSpec } from "../field/descriptor-file.ts";

/** One source file (or symlink) and where it lands in the image. */
export interface SourceFile {
  /** The host file read for the content: symlinks named or followed are resolved already. For a stored symlink, the link itself. */
  src: string;
  dst: string;
  size: number;
  executable: boolean;
  /** Set for a symlink stored as a symlink: its target, verbatim. */
  linkTarget?: string;
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

/** How sources are resolved. */
export interface SourceOptions {
  /** The descriptor's name as the user gave it, for messages. */
  fileName?: string;
  /** Read sources wherever they are (`--allow-outside-context`). */
  allowOutsideContext?: boolean;
}

/** The flag named in every "outside the context" error. */
export const ALLOW_OUTSIDE_FLAG = "--allow-outside-context";

const GLOB_CHARS = /[*?[\]{}]/;

interface Context {
  /** The descriptor's folder, symlinks resolved. */
  root: string;
  allowOutside: boolean;
  where: string;
  /** Folder -> its real path, shared by all entries. */
  realDirs: Map<string, string>;
}

/** Resolves every allotment's sources and checks that no two files land on one path. */
export async function resolveSources(allotments: AllotmentSpec[], baseDir: string, opts: SourceOptions = {}): Promise<ResolvedAllotment[]> {
  const fileName = opts.fileName ?? "2dfs.json";
  const root = realpathSync(baseDir);
  const resolved: ResolvedAllotment[] = [];
  const owners = new Map<string, string>();
  const realDirs = new Map<string, string>();
  for (const spec of allotments) {
    const ctx: Context = { root, allowOutside: opts.allowOutsideContext === true, where: `${fileName} ${describeEntry(spec)}`, realDirs };
    const files: SourceFile[] = [];
    for (let i = 0; i < spec.src.length; i++) {
      const found = await expandSource(spec.src[i]!, spec.dst[i]!, baseDir, ctx);
      for (const file of found) {
        const where = `${ctx.where} (${file.src})`;
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

async function expandSource(src: string, dst: string, baseDir: string, ctx: Context): Promise<SourceFile[]> {
  const dstIsDir = dst.endsWith("/");
  const dstBase = dstIsDir ? dst.slice(0, -1) : dst;
  if (GLOB_CHARS.test(src)) {
    const matches = await expandGlob(src, baseDir, ctx);
    if (matches.length === 0) throw new SourceError(`${ctx.where}: pattern "${src}" matches no file in ${baseDir}`);
    if (!dstIsDir && matches.length > 1) {
      throw new SourceError(`${ctx.where}: pattern "${src}" matches ${matches.length} files, so dst "${dst}" must end with "/"`);
    }
    return matches.map(({ real, rel }) => {
      // Where the match lands is its path below the pattern's fixed folder, which must not climb.
      if (dstIsDir && rel.split("/").includes("..")) {
        throw new SourceError(`${ctx.where}: pattern "${src}" matches ${rel}, which climbs with ".." after a wildcard, so it has no place below dst "${dst}"; put the ".." before the first wildcard`);
      }
      return describeFile(real, dstIsDir ? joinDst(dstBase, rel) : dst, ctx.where);
    });
  }
  const path = isAbsolute(src) ? src : resolve(baseDir, src);
  const own = lstatSync(path, { throwIfNoEntry: false });
  if (!own) throw new SourceError(`${ctx.where}: source "${src}" not found (looked for ${path})`);
  const real = own.isSymbolicLink() ? tryRealpath(path) : join(realDir(dirname(path), ctx), basename(path));
  if (real === undefined) throw new SourceError(`${ctx.where}: source "${src}" is a symlink that points to nothing (looked for ${path})`);
  confine(real, `source "${src}"`, ctx);
  const info = own.isSymbolicLink() ? statSync(real) : own;
  if (info.isDirectory()) {
    const files = await walk(real, real, dstBase, ctx);
    if (files.length === 0) throw new SourceError(`${ctx.where}: directory "${src}" contains no files`);
    return files;
  }
  if (!info.isFile()) throw new SourceError(`${ctx.where}: source "${src}" is not a regular file or directory`);
  // The name as written lands in a directory dst, not the name of what a link points at.
  const target = dstIsDir ? joinDst(dstBase, path.slice(path.lastIndexOf(sep) + 1)) : dst;
  return [describeFile(real, target, ctx.where)];
}

/** Refuses a resolved host path outside the context, unless that is allowed. */
function confine(real: string, subject: string, ctx: Context, verb = "resolves to"): void {
  if (ctx.allowOutside || isInside(real, ctx.root)) return;
  throw new SourceError(
    `${ctx.where}: ${subject} ${verb} ${real}, outside the build context ${ctx.root} (the descriptor's folder); move it inside or pass ${ALLOW_OUTSIDE_FLAG}`,
  );
}

// realpath opens each path it is given (O_PATH): a rebuild with nothing to do must not open
// sources, so only folders are resolved, once each, and a file that is no link is joined on.
function realDir(dir: string, ctx: Context): string {
  let real = ctx.realDirs.get(dir);
  if (real === undefined) {
    real = realpathSync(dir);
    ctx.realDirs.set(dir, real);
  }
  return real;
}

function isInside(path: string, root: string): boolean {
  const rel = relative(root, path);
  return rel === "" || (rel !== ".." && !rel.startsWith(`..${sep}`) && !isAbsolute(rel));
}

function describeFile(path: string, dst: string, where: string): SourceFile {
  // Synchronous on purpose: a stat is ~2 us, while each await of the async one costs a
  // thread-pool round trip, and a rebuild with nothing changed is mostly stats.
  const info = statSync(path, { bigint: true, throwIfNoEntry: false });
  if (!info) throw new SourceError(`${where}: source "${path}" not found`);
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

/**
 * Depth-first listing of the directory source `top` (a real path) below `dir`: regular files,
 * and each symlink either stored as a link (target inside `top`) or followed to its file.
 */
async function walk(top: string, dir: string, dstBase: string, ctx: Context): Promise<SourceFile[]> {
  const out: SourceFile[] = [];
  const entries = await readdir(dir, { withFileTypes: true });
  entries.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  for (const entry of entries) {
    const path = join(dir, entry.name);
    const dst = joinDst(dstBase, relative(top, path));
    if (entry.isDirectory()) out.push(...(await walk(top, path, dstBase, ctx)));
    else if (entry.isFile()) out.push(describeFile(path, dst, ctx.where));
    else if (entry.isSymbolicLink()) out.push(describeLink(top, path, dst, ctx));
  }
  return out;
}

function describeLink(top: string, path: string, dst: string, ctx: Context): SourceFile {
  const target = readlinkSync(path);
  const real = tryRealpath(path);
  const shown = `symlink ${path} -> "${target}"`;
  // Judged both by its text and by where the host resolves it, so a chain of links that
  // wanders out and back in is not stored as if it stayed inside.
  const staysInside = !isAbsolute(target) && isInside(resolve(dirname(path), target), top) && (real === undefined || isInside(real, top));
  if (staysInside) {
    const info = lstatSync(path, { bigint: true });
    return { src: path, dst, size: 0, executable: false, linkTarget: target, statKey: ["link", info.dev, info.ino, info.ctimeNs, target].join(":") };
  }
  // Out of the directory it would dangle in the image: the file it names is copied instead.
  if (real === undefined) throw new SourceError(`${ctx.where}: ${shown} leaves the directory and points to nothing`);
  confine(real, shown, ctx);
  const info = statSync(real, { throwIfNoEntry: false });
  if (!info?.isFile()) {
    throw new SourceError(`${ctx.where}: ${shown} leaves the directory for something that is not a regular file; name that folder as a src of its own`);
  }
  return describeFile(real, dst, ctx.where);
}

function tryRealpath(path: string): string | undefined {
  try {
    return realpathSync(path);
  } catch {
    return undefined; // dangling, or a loop
  }
}

/**
 * Matches relative to the descriptor folder; a match lands at dst + its path below the
 * pattern's fixed prefix (`data/**\/*.bin` -> dst/<below data/>). A matched symlink is followed
 * like a named source; one to a directory is skipped like a directory.
 */
async function expandGlob(pattern: string, baseDir: string, ctx: Context): Promise<{ real: string; rel: string }[]> {
  const parts = pattern.split("/");
  const fixed: string[] = [];
  for (const part of parts) {
    if (GLOB_CHARS.test(part)) break;
    fixed.push(part);
  }
  const root = resolve(baseDir, fixed.join("/") || ".");
  const rest = parts.slice(fixed.length).join("/");
  const out: { real: string; rel: string }[] = [];
  if (!statSync(root, { throwIfNoEntry: false })?.isDirectory()) return out;
  const realRoot = realpathSync(root);
  confine(realRoot, `pattern "${pattern}"`, ctx, "searches");
  const glob = new Bun.Glob(rest);
  for await (const rel of glob.scan({ cwd: realRoot, onlyFiles: false, dot: false, followSymlinks: false })) {
    const path = join(realRoot, rel);
    const info = lstatSync(path, { throwIfNoEntry: false });
    if (!info || info.isDirectory()) continue;
    if (info.isFile()) {
      confine(path, `pattern "${pattern}"`, ctx, "matches");
      out.push({ real: path, rel });
      continue;
    }
    if (!info.isSymbolicLink()) continue;
    const real = tryRealpath(path);
    if (real === undefined) throw new SourceError(`${ctx.where}: pattern "${pattern}" matches the symlink ${path}, which points to nothing`);
    confine(real, `pattern "${pattern}" matches the symlink ${path}, which`, ctx);
    if (statSync(real).isFile()) out.push({ real, rel });
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
