/** The default storage driver: files under one root folder on the local file system. */
import { closeSync, fstatSync, openSync, writeSync } from "node:fs";
import { mkdir, readdir, rename, rm, stat, truncate as truncateFile } from "node:fs/promises";
import { dirname, join } from "node:path";
import { type AppendSource, type ObjectStat, type StorageDriver, parseStoragePath } from "./driver.ts";
import { toStorageFullError } from "./storage-full.ts";

// Temporary files of atomic writes start with this; list() hides them.
const TEMP_PREFIX = ".tmp-";

/** Creates a driver storing everything under `root` (created when missing); a full disk throws StorageFullError. */
export function createFilesystemDriver(root: string): StorageDriver {
  const full = (path: string) => join(root, parseStoragePath(path));
  const ensureParent = (file: string) => mkdir(dirname(file), { recursive: true });
  return {
    async stat(path): Promise<ObjectStat | undefined> {
      try {
        const s = await stat(full(path));
        return s.isFile() ? { size: s.size, modified: s.mtimeMs } : undefined;
      } catch (e) {
        if (isMissing(e)) return undefined;
        throw e;
      }
    },
    async read(path) {
      try {
        return new Uint8Array(await Bun.file(full(path)).arrayBuffer());
      } catch (e) {
        if (isMissing(e)) return undefined;
        throw e;
      }
    },
    reader(path, offset = 0, end) {
      const file = Bun.file(full(path));
      return (offset > 0 || end !== undefined ? file.slice(offset, end) : file).stream();
    },
    file(path) {
      return Bun.file(full(path));
    },
    write: (path, bytes) => spaceChecked(async () => {
      const target = full(path);
      await ensureParent(target);
      const temp = join(dirname(target), `${TEMP_PREFIX}${crypto.randomUUID()}`);
      try {
        const written = await Bun.write(temp, bytes);
        // Bun.write has been seen to write short without an error (perf-baseline.md): check.
        if (written !== bytes.byteLength) throw new Error(`short write to ${path}: ${written} of ${bytes.byteLength} bytes`);
        await rename(temp, target);
      } catch (e) {
        // A temp file left by a failed write (e.g. on a full disk) would hold its space for good.
        await rm(temp, { force: true });
        throw e;
      }
    }),
    append: (path, data: AppendSource) => spaceChecked(async () => {
      const target = full(path);
      await ensureParent(target);
      if (!(data instanceof Uint8Array) && ((await stat(target).catch(() => undefined))?.size ?? 0) === 0) {
        // Into an empty file, Bun writes a request body natively: 1.5x as fast as taking the
        // chunks in JavaScript (bench/transfer.ts; README, "Library choices"). Bun.write
        // replaces the file, which is what appending to an empty one means. (Not used to
        // append: Bun 1.4.5 writes small bodies twice to an O_APPEND descriptor.)
        await Bun.write(target, new Response(data));
        return (await stat(target)).size;
      }
      const fd = openSync(target, "a");
      try {
        if (data instanceof Uint8Array) writeAll(fd, data);
        else for await (const chunk of data) writeAll(fd, chunk);
        return fstatSync(fd).size;
      } finally {
        closeSync(fd);
      }
    }),
    async truncate(path, size) {
      const s = await this.stat(path);
      if (s && s.size > size) await truncateFile(full(path), size);
    },
    move: (from, to) => spaceChecked(async () => {
      const target = full(to);
      await ensureParent(target);
      await rename(full(from), target);
    }),
    async delete(path) {
      await rm(full(path), { recursive: true, force: true });
    },
    async list(prefix) {
      try {
        const names = await readdir(full(prefix));
        return names.filter((n) => !n.startsWith(TEMP_PREFIX)).sort();
      } catch (e) {
        if (isMissing(e) || (e as NodeJS.ErrnoException).code === "ENOTDIR") return [];
        throw e;
      }
    },
  };
}

// Synchronous: a chunk of a body is small, and a write per chunk through the thread pool cost more than the copy.
function writeAll(fd: number, bytes: Uint8Array): void {
  let at = 0;
  while (at < bytes.byteLength) at += writeSync(fd, bytes, at, bytes.byteLength - at);
}

// Every call that can take space says so in one way when there is none.
async function spaceChecked<T>(op: () => Promise<T>): Promise<T> {
  try {
    return await op();
  } catch (e) {
    throw toStorageFullError(e);
  }
}

function isMissing(e: unknown): boolean {
  return (e as NodeJS.ErrnoException)?.code === "ENOENT";
}
