/**
 * The local image store: an OCI image layout directory (oci-layout, index.json,
 * blobs/<alg>/<hex>) that skopeo and umoci read as it is. 2dfs keeps its own state
 * (temp files, build cache, lock) under `.2dfs/` beside it.
 *
 * Every write is a temp file in the same filesystem renamed into place, so a crash or a
 * concurrent writer never exposes a partial blob or index.
 */
import { closeSync, existsSync, fstatSync, linkSync, mkdirSync, openSync, readFileSync, renameSync, rmSync, statSync, unlinkSync, writeFileSync } from "node:fs";
import { open, readFile, rename, rm, stat, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { Annotation } from "../oci/annotations.ts";
import type { Descriptor } from "../oci/descriptor.ts";
import { type Digest, parseDigest } from "../oci/digest.ts";
import { JsonShapeError, isObject, parseJsonBytes } from "../oci/json.ts";
import type { ImageIndex } from "../oci/manifest.ts";
import { MediaType } from "../oci/media-types.ts";
import { hashFile } from "../hash/hash-file.ts";
import { sha256Bytes } from "../hash/sha256.ts";
import { copyAll } from "../util/copy-file-range.ts";
import { withFileLock } from "./file-lock.ts";

/** A blob whose bytes do not hash to the digest they were stored or asked for under. */
export class BlobIntegrityError extends Error {
  override name = "BlobIntegrityError";
}

/** A name or digest that is not in the store. */
export class NotInStoreError extends Error {
  override name = "NotInStoreError";
}

/** A named image in the store. */
export interface StoredImage {
  name: string;
  descriptor: Descriptor;
}

/** The local OCI layout store. */
export interface LayoutStore {
  readonly root: string;
  /** Where 2dfs keeps private state (cache files) inside the store. */
  readonly stateDir: string;
  blobPath(digest: Digest): string;
  hasBlob(digest: Digest): Promise<boolean>;
  blobSize(digest: Digest): Promise<number | undefined>;
  /**
   * Whether the store holds `digest` whole: its size must be `size` when given, else its content
   * is hashed. A blob that fails is removed (so it is fetched again) and answers false.
   */
  verifyBlob(digest: Digest, size?: number): Promise<boolean>;
  /** Reads a small blob whole and checks its digest (manifests, configs, field blobs). */
  readBlob(digest: Digest, maxBytes?: number): Promise<Uint8Array>;
  /** Stores bytes as a blob; returns its digest and size. */
  putBlob(bytes: Uint8Array): Promise<{ digest: Digest; size: number }>;
  /** A fresh path in the store's temp folder (same filesystem as blobs/, so rename is atomic). */
  tempPath(hint?: string): Promise<string>;
  /** Moves a fully written, already verified temp file into place as `digest`. */
  commitBlob(tempPath: string, digest: Digest): Promise<void>;
  /**
   * Copies the file at `path` (a blob of another layout) into a temp file by kernel copies,
   * hashes the copy, and commits it only when its digest (and size, if given) match.
   */
  ingestFile(path: string, expected: { digest: Digest; size?: number }): Promise<{ digest: Digest; size: number }>;
  images(): Promise<StoredImage[]>;
  resolve(name: string): Promise<Descriptor | undefined>;
  /** Points `name` at `descriptor` (replacing an older image of that name). */
  setImage(name: string, descriptor: Descriptor): Promise<void>;
  removeImage(name: string): Promise<boolean>;
  /** Reads and updates index.json under the store lock. */
  updateIndex(fn: (index: ImageIndex) => ImageIndex | Promise<ImageIndex>): Promise<void>;
  readIndex(): Promise<ImageIndex>;
}

const LAYOUT = { imageLayoutVersion: "1.0.0" };

/** In-memory blobs up to this size are written synchronously. */
const SYNC_WRITE_MAX_BYTES = 1 << 20;

/** Opens (creating when missing) the store at `root`. */
export async function createLayoutStore(root: string): Promise<LayoutStore> {
  const stateDir = join(root, ".2dfs");
  const tmpDir = join(stateDir, "tmp");
  // Opening is a few metadata calls, done synchronously: the first asynchronous fs call of a
  // process costs Bun 3-7 ms (its thread pool starting), a tenth of a rebuild with nothing to do.
  mkdirSync(join(root, "blobs", "sha256"), { recursive: true });
  mkdirSync(tmpDir, { recursive: true });
  // A new store's first files are not flushed: lost in a crash, they are simply made again.
  if (!existsSync(join(root, "oci-layout"))) createIfAbsent(join(root, "oci-layout"), JSON.stringify(LAYOUT), tmpDir);
  if (!existsSync(join(root, "index.json"))) createIfAbsent(join(root, "index.json"), JSON.stringify(emptyIndex()), tmpDir);

  const blobPath = (digest: Digest): string => {
    const { algorithm, hex } = parseDigest(digest);
    return join(root, "blobs", algorithm, hex);
  };

  const tempPath = async (hint = "blob"): Promise<string> => join(tmpDir, `${hint}-${process.pid}-${crypto.randomUUID()}`);

  // Metadata calls on the blob paths are synchronous: each takes microseconds, less than handing
  // it to Bun's fs thread pool and waking the event loop again (measured on a 10-blob pull).
  const commitBlob = async (path: string, digest: Digest): Promise<void> => {
    const target = blobPath(digest);
    mkdirSync(join(target, ".."), { recursive: true });
    renameSync(path, target);
  };

  // Read synchronously (it is small, and every build and pull reads it once): an asynchronous
  // read would start Bun's fs thread pool (3-7 ms) for a rebuild that has nothing else to do.
  const readIndex = async (): Promise<ImageIndex> => {
    const bytes = readFileSync(join(root, "index.json"));
    const doc = parseJsonBytes(bytes, `${join(root, "index.json")}`);
    if (!isObject(doc) || !Array.isArray(doc.manifests)) {
      throw new JsonShapeError(`${join(root, "index.json")}: not an OCI image index`);
    }
    return doc as unknown as ImageIndex;
  };

  const updateIndex = async (fn: (index: ImageIndex) => ImageIndex | Promise<ImageIndex>): Promise<void> => {
    await withFileLock(join(stateDir, "index.lock"), async () => {
      const next = await fn(await readIndex());
      await atomicWrite(join(root, "index.json"), JSON.stringify(next), tmpDir);
    });
  };

  const store: LayoutStore = {
    root,
    stateDir,
    blobPath,
    async hasBlob(digest) {
      return existsSync(blobPath(digest));
    },
    async blobSize(digest) {
      return statSync(blobPath(digest), { throwIfNoEntry: false })?.size;
    },
    async verifyBlob(digest, size) {
      const path = blobPath(digest);
      const actual = statSync(path, { throwIfNoEntry: false })?.size;
      if (actual === undefined) return false;
      const whole = size !== undefined ? actual === size : (await hashFile(path)).digest === digest;
      if (!whole) rmSync(path, { force: true }); // a later commit puts a verified copy in its place
      return whole;
    },
    async readBlob(digest, maxBytes = 64 * 1024 * 1024) {
      const path = blobPath(digest);
      const info = await stat(path).catch(() => undefined);
      if (!info) throw new NotInStoreError(`blob ${digest} is not in the store ${root}`);
      if (info.size > maxBytes) throw new BlobIntegrityError(`blob ${digest} is ${info.size} bytes, over the ${maxBytes} byte limit`);
      const bytes = new Uint8Array(await readFile(path));
      if (parseDigest(digest).algorithm === "sha256" && sha256Bytes(bytes) !== digest) {
        throw new BlobIntegrityError(`blob ${digest} in ${root} is corrupt: its content has a different digest`);
      }
      return bytes;
    },
    async putBlob(bytes) {
      const digest = sha256Bytes(bytes);
      if (!existsSync(blobPath(digest))) {
        const tmp = await tempPath("put");
        // Documents (manifests, configs) are small: written synchronously, like the metadata
        // calls above, they do not wait for Bun's fs thread pool (a pull writes its first
        // manifest before any blob request goes out).
        if (bytes.byteLength <= SYNC_WRITE_MAX_BYTES) writeFileSync(tmp, bytes);
        else await writeFile(tmp, bytes);
        await commitBlob(tmp, digest);
      }
      return { digest, size: bytes.byteLength };
    },
    tempPath,
    commitBlob,
    async ingestFile(path, expected) {
      const tmp = await tempPath("ingest");
      try {
        await copyWholeFile(path, tmp, expected);
        const { digest, size } = await hashFile(tmp);
        if (digest !== expected.digest) throw new BlobIntegrityError(`digest mismatch: expected ${expected.digest}, content hashes to ${digest}`);
        await commitBlob(tmp, digest);
        return { digest, size };
      } catch (error) {
        await rm(tmp, { force: true });
        throw error;
      }
    },
    readIndex,
    updateIndex,
    async images() {
      const index = await readIndex();
      return index.manifests.flatMap((d) => {
        const name = d.annotations?.[Annotation.refName];
        return name ? [{ name, descriptor: d }] : [];
      });
    },
    async resolve(name) {
      const index = await readIndex();
      return index.manifests.find((d) => d.annotations?.[Annotation.refName] === name);
    },
    async setImage(name, descriptor) {
      await updateIndex((index) => ({
        ...index,
        manifests: [
          ...index.manifests.filter((d) => d.annotations?.[Annotation.refName] !== name),
          { ...descriptor, annotations: { ...descriptor.annotations, [Annotation.refName]: name } },
        ],
      }));
    },
    async removeImage(name) {
      let removed = false;
      await updateIndex((index) => {
        const manifests = index.manifests.filter((d) => d.annotations?.[Annotation.refName] !== name);
        removed = manifests.length !== index.manifests.length;
        return { ...index, manifests };
      });
      return removed;
    },
  };
  return store;
}

/** Copies `from` to a new file `to`, refusing a source whose size is not the expected one. */
async function copyWholeFile(from: string, to: string, expected: { digest: Digest; size?: number }): Promise<void> {
  const src = openSync(from, "r");
  try {
    const size = fstatSync(src).size;
    if (expected.size !== undefined && size !== expected.size) {
      throw new BlobIntegrityError(`blob ${expected.digest}: ${from} is ${size} bytes, expected ${expected.size}`);
    }
    const out = openSync(to, "w");
    try {
      const copied = await copyAll(src, out, size);
      if (copied !== size) throw new BlobIntegrityError(`blob ${expected.digest}: ${from} changed while it was copied`);
    } finally {
      closeSync(out);
    }
  } finally {
    closeSync(src);
  }
}

function emptyIndex(): ImageIndex {
  return { schemaVersion: 2, mediaType: MediaType.ociIndex, manifests: [] };
}

/**
 * Creates `path` whole, unless it exists: a complete temp file is hard-linked into place, which
 * never replaces a file (two processes opening a new store at once both succeed, and the first
 * one's file stays). Synchronous, and without the index lock, so that opening a new store does
 * not start Bun's fs thread pool (3-7 ms) before a pull's first request.
 */
function createIfAbsent(path: string, data: string, tmpDir: string): void {
  const tmp = join(tmpDir, `create-${process.pid}-${crypto.randomUUID()}`);
  writeFileSync(tmp, data);
  try {
    linkSync(tmp, path);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== "EEXIST") throw error;
  } finally {
    unlinkSync(tmp);
  }
}

/**
 * Replaces a small file whole through a temp file and a rename, synchronously and without an
 * fsync: for cache entries, where one lost in a power cut is only work done again.
 */
export function replaceFileSync(path: string, data: string, tmpDir: string): void {
  const tmp = join(tmpDir, `write-${process.pid}-${crypto.randomUUID()}`);
  try {
    writeFileSync(tmp, data);
    renameSync(tmp, path);
  } catch (error) {
    rmSync(tmp, { force: true }); // a full disk or a folder gone must not leave the temp file
    throw error;
  }
}

/** Writes a whole file durably (flushed before it is renamed into place): index.json. */
async function atomicWrite(path: string, data: string | Uint8Array, tmpDir: string): Promise<void> {
  const tmp = join(tmpDir, `write-${process.pid}-${crypto.randomUUID()}`);
  const handle = await open(tmp, "w");
  try {
    await handle.writeFile(data);
    await handle.sync();
  } finally {
    await handle.close();
  }
  await rename(tmp, path);
}
