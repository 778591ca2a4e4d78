/**
 * Extracts layer tars into a folder that 2dfs created for this pull, never writing outside it.
 * `..` and absolute names, device files and FIFOs are refused, and every path is resolved with an
 * lstat per component: a folder on the way is created or entered, anything else is refused or, in
 * a root filesystem, a symlink is followed the way a chroot would (absolute targets restart at the
 * root, `..` never climbs above it). Files are opened with O_CREAT|O_EXCL|O_NOFOLLOW.
 *
 * Parallel layers (`files` format, native fields) must not race each other: one layer turning a
 * folder into a symlink between another layer's check of that folder and its write would redirect
 * the write. Two rules close that, and both are needed:
 * - In `files` format no symlink exists while layers are extracted: symlink entries are recorded
 *   and created by `finish()`, after every layer, one by one, and a link whose place another
 *   entry made a folder (or file) is refused. So nothing is ever written through a symlink in
 *   `files` format (allotments are files at their destination; 2dfs's builder makes no links).
 * - From resolving an entry's folder to opening its file (or creating its folder or link), the
 *   code runs without yielding: only synchronous calls, so no other layer runs in between. Data
 *   is then written through the open descriptor, which no later rename or link can redirect.
 * A `rootfs` applies layers one at a time, in order, so a later layer may write through an earlier
 * layer's link (that is what `lib -> usr/lib` is for), resolved inside the root.
 *
 * Whiteouts (`.wh.NAME`, `.wh..wh..opq`) apply to what earlier layers extracted into the root.
 * Decode errors (broken gzip or zstd, a truncated or corrupt tar) and a layer that decompresses to
 * more than EXPANSION_LIMIT times its size are reported as CorruptLayerError naming the layer.
 */
import { chmodSync, closeSync, constants, fchmodSync, futimesSync, linkSync, mkdirSync, openSync, readlinkSync, rmSync, symlinkSync, writeSync } from "node:fs";
import { lstatOrNone, readdirOrNone } from "./fs-probe.ts";
import { join, posix, resolve } from "node:path";
import { createDecompressor, detectFileCompression, type Compression } from "../../archive/compress.ts";
import { indexUncompressedTar } from "../../archive/tar-index.ts";
import { parseTarStream, type TarStreamEntry } from "../../archive/tar-reader.ts";
import { CorruptLayerError, UnsafeEntryError } from "../errors.ts";
import { copyAll } from "../../util/copy-file-range.ts";
import { createNativeSha256 } from "../../hash/sha256.ts";
import type { Digest } from "../../oci/digest.ts";

/** What a pull writes: allotment files, or a root filesystem (absolute links allowed, stored verbatim). */
export type ExtractFormat = "files" | "rootfs";

/** Counts of what a layer put on disk. */
export interface ExtractStats {
  files: number;
  bytes: number;
}

/** A symlink this extraction created: where (relative to the root, physical), its target, and who made it. */
export interface CreatedLink {
  rel: string;
  target: string;
  /** `layer sha256:...: symlink "NAME"`, for error messages. */
  origin: string;
}

/** What the image says a layer is: the blob's digest, and the digest of its uncompressed tar (the config's diff_id). */
export interface LayerIdentity {
  digest: Digest;
  diffId: Digest;
}

/** Layers extracted into one root; `finish()` once every layer is in. */
export interface Extraction {
  /**
   * Extracts one layer blob (compression detected from its first bytes). With `identity`, the
   * tar is checked against its diff_id, as containerd does: a compressed layer's decompressed
   * bytes are hashed on the way (a zstd stream cut at a frame boundary, or a tar cut between two
   * entries, decodes without an error); an uncompressed one must be its own diff_id.
   */
  extractLayerFile(path: string, layerName: string, identity?: LayerIdentity): Promise<ExtractStats>;
  /** Extracts an uncompressed tar stream. */
  extractTarStream(stream: ReadableStream<Uint8Array>, layerName: string): Promise<ExtractStats>;
  /** Creates the links `files` format held back and returns every link created. */
  finish(): CreatedLink[];
}

const MAX_SYMLINK_HOPS = 40;
const OPAQUE = ".wh..wh..opq";
const WHITEOUT = ".wh.";
const OPEN_NEW_FILE = constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW;

/**
 * How many times its own size a compressed layer may expand to (above EXPANSION_FLOOR), so that a
 * crafted blob of a few MiB cannot fill the disk. Real layers expand 2-10 fold; gzip's own limit
 * is ~1,030 fold (long runs of zeros). TDFS_PULL_MAX_EXPANSION sets another ratio, 0 none.
 */
const EXPANSION_LIMIT = 200;
/** Any layer may expand to this much, whatever its ratio. */
const EXPANSION_FLOOR = 256 << 20;

/** Starts extracting into `root` (an empty folder this process created). */
export function createExtraction(root: string, format: ExtractFormat): Extraction {
  // files format: links held back until finish(), by physical path, in entry order.
  const pending = new Map<string, { target: string; layerName: string; origin: string }>();
  const created: CreatedLink[] = [];
  const ctx: Ctx = { root: resolve(root), format, pending, created };
  return {
    async extractLayerFile(path, layerName, identity) {
      const compression = await detectFileCompression(path);
      return asLayerError(layerName, compression, async () => {
        if (compression === "none") {
          if (identity && identity.diffId !== identity.digest) {
            throw new CorruptLayerError(`the image config names diff_id ${identity.diffId} for this uncompressed layer, which is its own diff_id`);
          }
          return extractIndexedTar(path, ctx, layerName);
        }
        const limit = expansionLimit(Bun.file(path).size);
        let stream = limitExpansion(createDecompressor(compression)(Bun.file(path).stream()), limit, compression);
        if (identity) stream = checkDiffId(stream, identity.diffId, compression);
        return extractStream(stream, ctx, layerName);
      });
    },
    extractTarStream(stream, layerName) {
      return asLayerError(layerName, "none", () => extractStream(stream, ctx, layerName));
    },
    finish() {
      for (const [rel, link] of pending) {
        const parent = folderOf(ctx, parentOf(rel), link.origin, true)!;
        const at = join(parent, posix.basename(rel));
        const existing = lstatOrNone(at);
        if (existing) {
          throw new UnsafeEntryError(
            `${link.origin} -> "${link.target}" collides with a ${existing.isDirectory() ? "folder" : "file"} other entries put at "${rel}"; in files format nothing is written through a symlink`,
          );
        }
        symlinkSync(link.target, at);
        created.push({ rel, target: link.target, origin: link.origin });
      }
      pending.clear();
      return created;
    },
  };
}

interface Ctx {
  root: string;
  format: ExtractFormat;
  pending: Map<string, { target: string; layerName: string; origin: string }>;
  created: CreatedLink[];
}

/** Runs one layer's extraction, turning decode and file system errors into errors that name the layer. */
async function asLayerError<T>(layerName: string, compression: Compression, run: () => Promise<T>): Promise<T> {
  try {
    return await run();
  } catch (error) {
    if (error instanceof UnsafeEntryError || (error instanceof CorruptLayerError && error.message.startsWith(layerName))) throw error;
    const reason = error instanceof CorruptLayerError ? error.message : describeDecodeError(error, compression);
    throw new CorruptLayerError(`${layerName}: ${reason}`, { cause: error });
  }
}

/** A one-line reason for a decode failure: zlib's codes in words, tar and file system messages as they are. */
function describeDecodeError(error: unknown, compression: Compression): string {
  const e = error as { code?: string; message?: string };
  const message = e?.message ?? String(error);
  const codec = compression === "none" ? "tar" : `${compression} data`;
  if (e?.code === "Z_BUF_ERROR" || /unexpected end of (file|data)/i.test(message)) return `${codec} is cut short (${message})`;
  if (typeof e?.code === "string" && e.code.startsWith("Z_")) return `${codec} is corrupt (${message})`;
  if (e?.code === "ZSTD_error" || /zstd/i.test(message)) return `zstd data is corrupt (${message})`;
  if (/tar|header/i.test(message)) return `not a valid tar (${message})`;
  return message;
}

function expansionLimit(compressedSize: number): { bytes: number; ratio: number } {
  const env = process.env.TDFS_PULL_MAX_EXPANSION;
  const ratio = env !== undefined && env !== "" && Number.isFinite(Number(env)) ? Number(env) : EXPANSION_LIMIT;
  return { ratio, bytes: ratio <= 0 ? Number.POSITIVE_INFINITY : Math.max(EXPANSION_FLOOR, compressedSize * ratio) };
}

/**
 * Passes decompressed bytes on, hashing them, and fails the stream at its end when they are not
 * the tar `diffId` names: the tar parser reads to the end of its input, so the failure reaches it.
 */
function checkDiffId(stream: ReadableStream<Uint8Array>, diffId: Digest, compression: Compression): ReadableStream<Uint8Array> {
  const hash = createNativeSha256();
  let bytes = 0;
  return stream.pipeThrough(
    new TransformStream<Uint8Array, Uint8Array>({
      transform(chunk, controller) {
        hash.update(chunk);
        bytes += chunk.byteLength;
        controller.enqueue(chunk);
      },
      flush() {
        const got = hash.digest();
        if (got !== diffId) {
          throw new CorruptLayerError(`${compression} data decompresses to ${bytes} bytes with digest ${got}, not the diff_id ${diffId} the image config names (cut short or altered)`);
        }
      },
    }),
  );
}

/** Passes decompressed bytes on until there are more than `limit`, then fails the stream. */
function limitExpansion(stream: ReadableStream<Uint8Array>, limit: { bytes: number; ratio: number }, compression: Compression): ReadableStream<Uint8Array> {
  if (limit.bytes === Number.POSITIVE_INFINITY) return stream;
  let total = 0;
  return stream.pipeThrough(
    new TransformStream<Uint8Array, Uint8Array>({
      transform(chunk, controller) {
        total += chunk.byteLength;
        if (total > limit.bytes) {
          throw new CorruptLayerError(
            `${compression} data expands to more than ${Math.round(limit.bytes / (1 << 20))} MiB (over ${limit.ratio} times its size): refused as a likely decompression bomb (TDFS_PULL_MAX_EXPANSION=0 lifts the limit)`,
          );
        }
        controller.enqueue(chunk);
      },
    }),
  );
}

/**
 * An uncompressed layer (model weights) is not streamed through a tar parser: its headers are
 * indexed and each file's bytes are copied from the blob by the kernel (copy_file_range at the
 * entry's offset; read/write where the kernel cannot), with the same checks on every entry.
 * (`Bun.write` of a `Bun.file().slice()` would copy in the kernel too, but Bun 1.4.5 ignores
 * the slice and writes the whole file.)
 */
async function extractIndexedTar(path: string, ctx: Ctx, layerName: string): Promise<ExtractStats> {
  const entries = await indexUncompressedTar(path);
  const stats: ExtractStats = { files: 0, bytes: 0 };
  const dirModes: [string, number][] = [];
  const blob = openSync(path, "r");
  try {
    for (const e of entries) {
      await applyEntry(
        {
          header: e,
          skip() {},
          async writeTo(out) {
            const copied = await copyAll(blob, out, e.size, e.dataOffset);
            if (copied < e.size) throw new CorruptLayerError(`${layerName}: "${e.name}" is cut short`);
            return e.size;
          },
        },
        ctx,
        layerName,
        stats,
        dirModes,
      );
    }
  } finally {
    closeSync(blob);
  }
  applyDirModes(ctx, dirModes);
  return stats;
}

/** One tar entry, from a stream or from an indexed file: its header, and how to skip it or write its data. */
interface EntrySource {
  header: { name: string; type?: string | null; mode?: number; linkname?: string | null; mtime?: Date; size?: number };
  skip(): void;
  /** Writes the entry's data to the open file `fd`; returns the bytes written. */
  writeTo(fd: number): Promise<number>;
}

function fromStreamEntry(entry: TarStreamEntry): EntrySource {
  return {
    header: entry.header,
    skip: () => entry.resume(),
    async writeTo(fd) {
      let bytes = 0;
      for await (const chunk of entry as AsyncIterable<Uint8Array>) {
        for (let at = 0; at < chunk.byteLength; ) at += writeSync(fd, chunk, at, chunk.byteLength - at);
        bytes += chunk.byteLength;
      }
      return bytes;
    },
  };
}

async function extractStream(stream: ReadableStream<Uint8Array>, ctx: Ctx, layerName: string): Promise<ExtractStats> {
  const tar = parseTarStream(stream);
  const stats: ExtractStats = { files: 0, bytes: 0 };
  const dirModes: [string, number][] = [];
  try {
    for await (const entry of tar.entries) {
      await applyEntry(fromStreamEntry(entry), ctx, layerName, stats, dirModes);
    }
  } catch (error) {
    tar.abort();
    await tar.finished.catch(() => {});
    throw error;
  }
  await tar.finished;
  applyDirModes(ctx, dirModes);
  return stats;
}

/** The normalised relative path of a tar entry name ("" for the root itself: `/`, `./`), or an UnsafeEntryError. */
export function toSafeEntryPath(name: string, layerName: string): string {
  if (name.includes("\0")) throw new UnsafeEntryError(`${layerName}: entry name contains a NUL byte`);
  const parts = name.split("/").filter((p) => p !== "" && p !== ".");
  // `/` and `./` name the root (umoci and `docker import` write them); any other absolute name is refused.
  if (name.startsWith("/") && parts.length > 0) throw new UnsafeEntryError(`${layerName}: entry "${name}" has an absolute path`);
  if (parts.includes("..")) throw new UnsafeEntryError(`${layerName}: entry "${name}" leads outside the target folder ("..")`);
  return parts.join("/");
}

/**
 * The components of `rel` resolved inside `root` as a chroot would: symlinks met on the way are
 * followed, absolute targets start again at `root`, and `..` never climbs above it. The last
 * component is followed only when `followLast` is set. Synchronous, so nothing changes under it.
 */
export function resolveInRoot(root: string, rel: string, followLast: boolean): string {
  return join(root, ...resolvePartsInRoot(root, rel, followLast));
}

function resolvePartsInRoot(root: string, rel: string, followLast: boolean): string[] {
  let pending = rel.split("/").filter((p) => p !== "" && p !== ".");
  const done: string[] = [];
  let hops = 0;
  while (pending.length > 0) {
    const part = pending.shift()!;
    if (part === "..") {
      done.pop();
      continue;
    }
    const isLast = pending.length === 0;
    const info = lstatOrNone(join(root, ...done, part));
    if (info?.isSymbolicLink() && (!isLast || followLast)) {
      if (++hops > MAX_SYMLINK_HOPS) throw new UnsafeEntryError(`too many levels of symbolic links under "${rel}"`);
      const target = readlinkSync(join(root, ...done, part));
      if (target.startsWith("/")) done.length = 0;
      pending = [...target.split("/").filter((p) => p !== "" && p !== "."), ...pending];
      continue;
    }
    done.push(part);
  }
  return done;
}

/** True when a relative symlink target, seen from the link's folder, stays inside the root by its names alone. */
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
 * The real folder for `rel` (relative to the root): in rootfs resolved through links inside the
 * root, in files format taken literally. Every component is lstat'ed: a folder is entered, a
 * missing one created (when `create`; else undefined is returned), anything else refused.
 */
function folderOf(ctx: Ctx, rel: string, what: string, create: boolean): string | undefined {
  const parts = ctx.format === "rootfs" ? resolvePartsInRoot(ctx.root, rel, true) : rel.split("/").filter((p) => p !== "");
  let path = ctx.root;
  for (const [i, part] of parts.entries()) {
    path = join(path, part);
    const info = lstatOrNone(path);
    if (info?.isDirectory()) continue;
    const shown = parts.slice(0, i + 1).join("/");
    if (info?.isSymbolicLink()) throw new UnsafeEntryError(`${what} would be written through the symlink "${shown}"`);
    if (info) throw new UnsafeEntryError(`${what} needs "${shown}" to be a folder, but a file is there`);
    if (!create) return undefined;
    mkdirSync(path, { mode: 0o755 });
  }
  return path;
}

function parentOf(rel: string): string {
  const dir = posix.dirname(rel);
  return dir === "." ? "" : dir;
}

async function applyEntry(entry: EntrySource, ctx: Ctx, layerName: string, stats: ExtractStats, dirModes: [string, number][]): Promise<void> {
  const h = entry.header;
  const rel = toSafeEntryPath(h.name, layerName);
  const type = h.type ?? "file";
  const what = `${layerName}: entry "${h.name}"`;
  if (type === "character-device" || type === "block-device" || type === "fifo") {
    entry.skip();
    throw new UnsafeEntryError(`${what} is a ${type}; device files and FIFOs are refused`);
  }
  if (rel === "") {
    // The root itself: its mode is ignored (DIR keeps its own).
    entry.skip();
    if (type !== "directory") throw new UnsafeEntryError(`${what} names the root folder but is a ${type}`);
    return;
  }
  const base = posix.basename(rel);
  // From here to the open (or mkdir, link) below: synchronous only, so no other layer runs in between.
  if (base.startsWith(WHITEOUT)) {
    entry.skip();
    applyWhiteout(ctx, parentOf(rel), base, what);
    return;
  }
  const parent = folderOf(ctx, parentOf(rel), what, true)!;
  const target = join(parent, base);
  const physical = target.slice(ctx.root.length + 1); // join() has normalised it already
  const existing = lstatOrNone(target);
  const mode = (h.mode ?? 0o644) & 0o777;
  // A later entry of the same layer replaces a link held back at its place.
  if (ctx.pending.get(physical)?.layerName === layerName) ctx.pending.delete(physical);

  if (type === "directory") {
    entry.skip();
    if (existing && !existing.isDirectory()) rmSync(target, { recursive: true, force: true });
    if (!existing?.isDirectory()) mkdirSync(target, { mode: 0o755 });
    dirModes.push([physical, mode | 0o700]);
    return;
  }
  if (type === "symlink") {
    entry.skip();
    const to = h.linkname ?? "";
    const origin = `${layerName}: symlink "${h.name}"`;
    if (to === "" || to.includes("\0")) throw new UnsafeEntryError(`${origin} has no valid target`);
    // Checked from where the link really lands (its folder may have been reached through links).
    if (to.startsWith("/") ? ctx.format === "files" : !symlinkStaysInside(physical, to)) {
      throw new UnsafeEntryError(`${origin} -> "${to}" points outside the target folder`);
    }
    if (ctx.format === "files") {
      if (existing?.isDirectory()) throw new UnsafeEntryError(`${origin} -> "${to}" would replace the folder "${physical}"`);
      if (existing) rmSync(target, { force: true });
      ctx.pending.set(physical, { target: to, layerName, origin });
      return;
    }
    if (existing) rmSync(target, { recursive: true, force: true });
    symlinkSync(to, target);
    ctx.created.push({ rel: physical, target: to, origin });
    stats.files++;
    return;
  }
  if (type === "link") {
    entry.skip();
    const linkRel = toSafeEntryPath(h.linkname ?? "", layerName);
    const sourceParent = linkRel === "" ? undefined : folderOf(ctx, parentOf(linkRel), what, false);
    const source = sourceParent === undefined ? undefined : join(sourceParent, posix.basename(linkRel));
    if (source === undefined || !lstatOrNone(source)?.isFile()) {
      throw new UnsafeEntryError(`${layerName}: hard link "${h.name}" -> "${h.linkname}" does not name a file extracted before it`);
    }
    if (existing) rmSync(target, { recursive: true, force: true });
    linkSync(source, target);
    stats.files++;
    return;
  }
  if (type !== "file" && type !== "contiguous-file") {
    entry.skip();
    throw new UnsafeEntryError(`${what} has the unsupported type ${type}`);
  }
  // Never write through what is there: a symlink in the way is replaced, not followed.
  if (existing) rmSync(target, { recursive: true, force: true });
  const fd = openSync(target, OPEN_NEW_FILE, mode);
  try {
    stats.bytes += await entry.writeTo(fd);
    fchmodSync(fd, mode);
    if (h.mtime) ignoreError(() => futimesSync(fd, h.mtime!, h.mtime!));
  } finally {
    closeSync(fd);
  }
  stats.files++;
}

function applyWhiteout(ctx: Ctx, parentRel: string, base: string, what: string): void {
  const parent = folderOf(ctx, parentRel, what, false);
  const prefix = parent === undefined || parent === ctx.root ? "" : `${parent.slice(ctx.root.length + 1)}/`;
  const hidden = base === OPAQUE ? undefined : base.slice(WHITEOUT.length);
  if (hidden === "" || hidden === "." || hidden === "..") throw new UnsafeEntryError(`${what}: invalid whiteout`);
  // Links held back (files format) under what is hidden go too.
  for (const rel of ctx.pending.keys()) {
    if (hidden === undefined ? rel.startsWith(prefix) : rel === `${prefix}${hidden}` || rel.startsWith(`${prefix}${hidden}/`)) ctx.pending.delete(rel);
  }
  if (parent === undefined) return;
  const names = hidden === undefined ? readdirOrNone(parent) : [hidden];
  for (const n of names) rmSync(join(parent, n), { recursive: true, force: true });
}

/** Folder modes last, deepest first, so a read-only folder did not block its own children; never through a link. */
function applyDirModes(ctx: Ctx, dirModes: [string, number][]): void {
  for (const [rel, mode] of dirModes.reverse()) {
    // The folder may have been replaced since: only a path of real folders counts.
    if (isRealFolderPath(ctx.root, rel)) ignoreError(() => chmodSync(join(ctx.root, rel), mode));
  }
}

function isRealFolderPath(root: string, rel: string): boolean {
  let path = root;
  for (const part of rel.split("/")) {
    path = join(path, part);
    if (!lstatOrNone(path)?.isDirectory()) return false;
  }
  return true;
}

// The file system calls above are synchronous: each takes microseconds, the first asynchronous
// one would start Bun's fs thread pool (3-7 ms) for a pull of a few files, and (see the top) no
// other layer may run between a path's check and its use.

function ignoreError(fn: () => void): void {
  try {
    fn();
  } catch {
    // best effort: the content is in place either way
  }
}
