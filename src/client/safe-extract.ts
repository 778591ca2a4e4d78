/**
 * Extracts layer tars into a folder that 2dfs created for this pull, never writing outside it:
 * `..` and absolute names, device files and FIFOs are refused, links are checked, and every
 * path is resolved inside the root the way a chroot would (symlinks included), so no entry can
 * be written through a symlink to somewhere else. Whiteouts (`.wh.NAME`, `.wh..wh..opq`) apply
 * to what earlier layers extracted into the same root.
 */
import { type Stats, chmodSync, closeSync, createWriteStream, linkSync, lstatSync, mkdirSync, openSync, readdirSync, readlinkSync, rmSync, symlinkSync, utimesSync } from "node:fs";
import { join, posix } from "node:path";
import { createDecompressor, detectFileCompression } from "../archive/compress.ts";
import { indexUncompressedTar, type TarIndexEntry } from "../archive/tar-index.ts";
import { parseTarStream, type TarStreamEntry } from "../archive/tar-reader.ts";
import { UnsafeEntryError } from "./errors.ts";
import { copyAll } from "../util/copy-file-range.ts";

/** How strict extraction is about link targets. */
export interface ExtractOptions {
  /** In a root filesystem absolute symlinks are normal (they resolve inside the container); for plain files they are refused. */
  allowAbsoluteSymlinks: boolean;
  /** Names the layer in error messages. */
  layerName: string;
}

/** Counts of what a layer put on disk. */
export interface ExtractStats {
  files: number;
  bytes: number;
}

const MAX_SYMLINK_HOPS = 40;
const OPAQUE = ".wh..wh..opq";
const WHITEOUT = ".wh.";

/** The normalised relative path of a tar entry name, or an UnsafeEntryError. */
export function toSafeEntryPath(name: string, layerName: string): string {
  if (name.includes("\0")) throw new UnsafeEntryError(`${layerName}: entry name contains a NUL byte`);
  if (name.startsWith("/")) throw new UnsafeEntryError(`${layerName}: entry "${name}" has an absolute path`);
  const parts = name.split("/").filter((p) => p !== "" && p !== ".");
  if (parts.includes("..")) throw new UnsafeEntryError(`${layerName}: entry "${name}" leads outside the target folder ("..")`);
  return parts.join("/");
}

/**
 * Resolves a relative path inside `root` as a chroot would: symlinks met on the way are
 * followed, absolute targets start again at `root`, and `..` never climbs above it. The last
 * component is followed only when `followLast` is set.
 */
export async function resolveInRoot(root: string, rel: string, followLast: boolean): Promise<string> {
  let pending = rel.split("/").filter((p) => p !== "" && p !== ".");
  const done: string[] = [];
  let hops = 0;
  while (pending.length > 0) {
    const part = pending.shift()!;
    if (part === "..") {
      done.pop();
      continue;
    }
    const candidate = join(root, ...done, part);
    const isLast = pending.length === 0;
    const info = lstatOrNone(candidate);
    if (info?.isSymbolicLink() && (!isLast || followLast)) {
      if (++hops > MAX_SYMLINK_HOPS) throw new UnsafeEntryError(`too many levels of symbolic links under "${rel}"`);
      const target = readlinkSync(candidate);
      if (target.startsWith("/")) done.length = 0;
      pending = [...target.split("/").filter((p) => p !== "" && p !== "."), ...pending];
      continue;
    }
    done.push(part);
  }
  return join(root, ...done);
}

/** True when a relative symlink target, seen from the link's folder, stays inside the root. */
export function symlinkStaysInside(entryPath: string, target: string): boolean {
  // Count depth by hand: path.normalize would silently clamp "/.." to "/" and hide the escape.
  let depth = entryPath.split("/").length - 1;
  for (const part of target.split("/")) {
    if (part === "" || part === ".") continue;
    depth += part === ".." ? -1 : 1;
    if (depth < 0) return false;
  }
  return true;
}

/**
 * Extracts one layer blob (compression detected from its first bytes) into `root`. An
 * uncompressed layer (model weights) is not streamed through a tar parser: its headers are
 * indexed and each file's bytes are copied from the blob by the kernel (copy_file_range at the
 * entry's offset; read/write where the kernel cannot), with the same checks on every entry.
 * (`Bun.write` of a `Bun.file().slice()` would copy in the kernel too, but Bun 1.4.5 ignores
 * the slice and writes the whole file.)
 */
export async function extractLayerFile(path: string, root: string, opts: ExtractOptions): Promise<ExtractStats> {
  const compression = await detectFileCompression(path);
  if (compression === "none") return extractIndexedTar(path, await indexUncompressedTar(path), root, opts);
  const stream = createDecompressor(compression)(Bun.file(path).stream());
  return extractTarStream(stream, root, opts);
}

async function extractIndexedTar(path: string, entries: TarIndexEntry[], root: string, opts: ExtractOptions): Promise<ExtractStats> {
  const stats: ExtractStats = { files: 0, bytes: 0 };
  const dirModes: [string, number][] = [];
  const blob = openSync(path, "r");
  try {
    for (const e of entries) {
      const entry: EntrySource = {
        header: e,
        skip() {},
        async writeTo(target, mode) {
          const out = openSync(target, "wx", mode);
          try {
            const copied = await copyAll(blob, out, e.size, e.dataOffset);
            if (copied < e.size) throw new UnsafeEntryError(`${opts.layerName}: "${e.name}" is cut short`);
          } finally {
            closeSync(out);
          }
          return e.size;
        },
      };
      await applyEntry(entry, root, opts, stats, dirModes);
    }
  } finally {
    closeSync(blob);
  }
  for (const [dir, mode] of dirModes.reverse()) ignoreError(() => chmodSync(dir, mode));
  return stats;
}


/** One tar entry, from a stream or from an indexed file: its header, and how to skip it or write its data. */
interface EntrySource {
  header: { name: string; type?: string | null; mode?: number; linkname?: string | null; mtime?: Date; size?: number };
  skip(): void;
  /** Writes the entry's data to a new file at `target`; returns the bytes written. */
  writeTo(target: string, mode: number): Promise<number>;
}

function fromStreamEntry(entry: TarStreamEntry): EntrySource {
  return {
    header: entry.header,
    skip: () => entry.resume(),
    async writeTo(target, mode) {
      const out = createWriteStream(target, { mode });
      let bytes = 0;
      for await (const chunk of entry as AsyncIterable<Uint8Array>) {
        bytes += chunk.byteLength;
        if (!out.write(chunk)) await new Promise((resolve) => out.once("drain", resolve));
      }
      await new Promise<void>((resolve, reject) => out.end((err?: Error | null) => (err ? reject(err) : resolve())));
      return bytes;
    },
  };
}

/** Extracts an uncompressed tar stream into `root` (which must be a folder this process owns). */
export async function extractTarStream(stream: ReadableStream<Uint8Array>, root: string, opts: ExtractOptions): Promise<ExtractStats> {
  const tar = parseTarStream(stream);
  const stats: ExtractStats = { files: 0, bytes: 0 };
  const dirModes: [string, number][] = [];
  try {
    for await (const entry of tar.entries) {
      await applyEntry(fromStreamEntry(entry), root, opts, stats, dirModes);
    }
  } catch (error) {
    tar.abort();
    throw error;
  }
  await tar.finished;
  // Modes last, deepest first, so a read-only folder did not block its own children.
  for (const [dir, mode] of dirModes.reverse()) ignoreError(() => chmodSync(dir, mode));
  return stats;
}

async function applyEntry(entry: EntrySource, root: string, opts: ExtractOptions, stats: ExtractStats, dirModes: [string, number][]): Promise<void> {
  const h = entry.header;
  const rel = toSafeEntryPath(h.name, opts.layerName);
  const type = h.type ?? "file";
  if (rel === "") {
    entry.skip();
    return;
  }
  const base = posix.basename(rel);
  const parentRel = posix.dirname(rel) === "." ? "" : posix.dirname(rel);
  if (type === "character-device" || type === "block-device" || type === "fifo") {
    entry.skip();
    throw new UnsafeEntryError(`${opts.layerName}: entry "${h.name}" is a ${type}; device files and FIFOs are refused`);
  }
  const parent = await resolveInRoot(root, parentRel, true);
  if (base.startsWith(WHITEOUT)) {
    entry.skip();
    if (base === OPAQUE) {
      let names: string[] = [];
      try {
        names = readdirSync(parent);
      } catch {
        // nothing to hide
      }
      for (const n of names) rmSync(join(parent, n), { recursive: true, force: true });
    } else {
      const hidden = base.slice(WHITEOUT.length);
      if (hidden === "" || hidden === "." || hidden === "..") throw new UnsafeEntryError(`${opts.layerName}: invalid whiteout "${h.name}"`);
      rmSync(join(parent, hidden), { recursive: true, force: true });
    }
    return;
  }
  mkdirSync(parent, { recursive: true });
  const target = join(parent, base);
  const existing = lstatOrNone(target);
  const mode = (h.mode ?? 0o644) & 0o777;

  if (type === "directory") {
    entry.skip();
    if (existing && !existing.isDirectory()) rmSync(target, { recursive: true, force: true });
    if (!existing?.isDirectory()) mkdirSync(target, { mode: 0o755, recursive: true });
    dirModes.push([target, mode | 0o700]);
    return;
  }
  // Never write through what is there: a symlink in the way is replaced, not followed.
  if (existing) rmSync(target, { recursive: true, force: true });

  if (type === "symlink") {
    entry.skip();
    const to = h.linkname ?? "";
    if (to === "" || to.includes("\0")) throw new UnsafeEntryError(`${opts.layerName}: symlink "${h.name}" has no valid target`);
    if (to.startsWith("/") ? !opts.allowAbsoluteSymlinks : !symlinkStaysInside(rel, to)) {
      throw new UnsafeEntryError(`${opts.layerName}: symlink "${h.name}" -> "${to}" points outside the target folder`);
    }
    symlinkSync(to, target);
    stats.files++;
    return;
  }
  if (type === "link") {
    entry.skip();
    const linkRel = toSafeEntryPath(h.linkname ?? "", opts.layerName);
    const source = await resolveInRoot(root, linkRel, false);
    const info = lstatOrNone(source);
    if (!info?.isFile()) {
      throw new UnsafeEntryError(`${opts.layerName}: hard link "${h.name}" -> "${h.linkname}" does not name a file extracted before it`);
    }
    linkSync(source, target);
    stats.files++;
    return;
  }
  if (type !== "file" && type !== "contiguous-file") {
    entry.skip();
    throw new UnsafeEntryError(`${opts.layerName}: entry "${h.name}" has the unsupported type ${type}`);
  }
  stats.bytes += await entry.writeTo(target, mode);
  chmodSync(target, mode);
  if (h.mtime) ignoreError(() => utimesSync(target, h.mtime!, h.mtime!));
  stats.files++;
}

// The file system calls above are synchronous: each takes microseconds, and the first
// asynchronous one would start Bun's fs thread pool (3-7 ms) for a pull of a few files.

/** lstat, or undefined when the path cannot be examined (missing, or a file where a folder is expected). */
function lstatOrNone(path: string): Stats | undefined {
  try {
    return lstatSync(path);
  } catch {
    return undefined;
  }
}

function ignoreError(fn: () => void): void {
  try {
    fn();
  } catch {
    // best effort: the content is in place either way
  }
}
