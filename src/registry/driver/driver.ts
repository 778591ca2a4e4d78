/** The storage driver: a dumb byte store addressed by slash-separated paths; it knows nothing of OCI. */
import type { BunFile } from "bun";

/** Size and last-modified time (ms since the epoch) of a stored object. */
export interface ObjectStat {
  size: number;
  modified: number;
}

/** Data to append: bytes, or a stream consumed to its end. */
export type AppendSource = Uint8Array | ReadableStream<Uint8Array>;

/** A byte store by path. Paths are relative, `/`-separated, and never contain `..`. */
export interface StorageDriver {
  /** Size and mtime of a file, or undefined when there is none (directories have no stat). */
  stat(path: string): Promise<ObjectStat | undefined>;
  /** The whole content of a small file, or undefined when it does not exist. */
  read(path: string): Promise<Uint8Array | undefined>;
  /** A stream of bytes [offset, end) of a file (end exclusive, defaults to the size). */
  reader(path: string, offset?: number, end?: number): ReadableStream<Uint8Array>;
  /** The file as a Bun.file when the driver is on a local file system (lets responses use sendfile). */
  file?(path: string): BunFile | undefined;
  /** Replaces a file atomically: readers see the old or the new content, never a mix. */
  write(path: string, bytes: Uint8Array): Promise<void>;
  /** Appends to a file (creating it) and returns its new size. */
  append(path: string, data: AppendSource): Promise<number>;
  /**
   * Set where each append is costly whatever its size (object storage: one object per append and
   * a rewritten list): writers that stream in small pieces gather at least this many bytes per append.
   */
  readonly appendBatchBytes?: number;
  /** Cuts a file down to `size` bytes (drops a chunk half-written when a process died). */
  truncate(path: string, size: number): Promise<void>;
  /** Renames a file, replacing any file at `to`. */
  move(from: string, to: string): Promise<void>;
  /** Deletes a file or a whole folder; missing paths are not an error. */
  delete(path: string): Promise<void>;
  /** The names of the direct children (files and folders) of a folder, sorted; [] when missing. */
  list(prefix: string): Promise<string[]>;
  /**
   * A URL from which a client may fetch the file directly for `seconds`, without the registry
   * (object storage's presigned GET); only drivers over such a store have it (`serve --redirect`).
   */
  directUrl?(path: string, seconds: number): string;
}

/** Thrown for a path a driver must refuse (absolute, `..`, empty parts). */
export class StoragePathError extends Error {
  override name = "StoragePathError";
}

/** Validates a driver path; every driver calls this before touching storage. */
export function parseStoragePath(path: string): string {
  const trimmed = path.replace(/\/+$/, "");
  if (trimmed === "") return "";
  if (trimmed.startsWith("/") || trimmed.split("/").some((p) => p === "" || p === "." || p === "..")) {
    throw new StoragePathError(`invalid storage path "${path}"`);
  }
  return trimmed;
}
