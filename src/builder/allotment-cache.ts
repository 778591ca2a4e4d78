/**
 * The allotment cache. Its key covers what decides an allotment's bytes: each file's
 * dst, mode, and source identity (device, inode, size, mtime, ctime, mode: the stat
 * cache, so an unchanged source is never re-read), a stored symlink's target, plus the
 * compression asked for (with `auto`, its --min-saving: another threshold may decide otherwise).
 * A hit is trusted only when its blob is still in the store with the recorded size.
 * What `auto` decided is kept per image beside it (auto-decisions.ts).
 */
import { mkdirSync, readFileSync, statSync } from "node:fs";
import { join } from "node:path";
import { replaceFileSync, type LayoutStore } from "../content/layout-store.ts";
import type { Digest } from "../oci/digest.ts";
import { isDigest } from "../oci/digest.ts";
import { isObject } from "../oci/json.ts";
import { sha256Bytes } from "../hash/sha256.ts";
import type { SourceFile } from "./sources.ts";
import type { AutoDecision } from "../archive/auto-compression.ts";
import { isAutoDecision } from "./auto-decisions.ts";

/**
 * Bump when the layer bytes for the same inputs would change (tar writer, compression).
 * 2: symlinks stored as links. 3: `auto` decides by --min-saving and compresses at gzip's level.
 * 4: gzip through libdeflate, one member per 2 MiB of tar; `auto` at level 1 below 50% saving.
 * 5: `auto` screens its sample with zstd, in 32 KiB pieces (a decision near the line may differ).
 */
const CACHE_VERSION = 5;

/** A built allotment layer as the cache remembers it. */
export interface CachedLayer {
  digest: Digest;
  diffId: Digest;
  size: number;
  mediaType: string;
  /** Bytes of the uncompressed tar (the diffId's bytes); recorded since CACHE_VERSION 3, and older entries never match a key. */
  tarSize: number;
  /** What `auto` sampled and decided, when it was asked for. */
  auto?: AutoDecision;
}

/** Lookup and record of allotment layers in the store's private state folder. */
export interface AllotmentCache {
  keyFor(files: SourceFile[], compression: string): string;
  get(key: string): Promise<CachedLayer | undefined>;
  put(key: string, layer: CachedLayer): Promise<void>;
}

/** The cache of one store. */
export function createAllotmentCache(store: LayoutStore): AllotmentCache {
  const dir = join(store.stateDir, "cache", "allotments");
  const tmpDir = join(store.stateDir, "tmp");
  let dirMade = false;
  return {
    keyFor(files, compression) {
      const identity = files.map((f) => [f.dst, f.executable ? 1 : 0, f.src, f.statKey, f.linkTarget ?? null]);
      return sha256Bytes(JSON.stringify([CACHE_VERSION, compression, identity])).slice(7);
    },
    async get(key) {
      let text: string;
      try {
        text = readFileSync(join(dir, `${key}.json`), "utf8"); // small file; sync avoids a thread-pool round trip
      } catch {
        return undefined;
      }
      let entry: unknown;
      try {
        entry = JSON.parse(text);
      } catch {
        return undefined; // a damaged entry is a miss; the rebuild overwrites it
      }
      if (!isCachedLayer(entry)) return undefined;
      if (statSync(store.blobPath(entry.digest), { throwIfNoEntry: false })?.size !== entry.size) return undefined;
      return entry;
    },
    // Synchronous: a few hundred bytes each, where every asynchronous step (open, write, close,
    // rename) was a round trip through Bun's fs threads on the thread that also runs layer jobs.
    async put(key, layer) {
      if (!dirMade) {
        mkdirSync(dir, { recursive: true });
        dirMade = true;
      }
      replaceFileSync(join(dir, `${key}.json`), JSON.stringify(layer), tmpDir);
    },
  };
}

function isCachedLayer(value: unknown): value is CachedLayer {
  return (
    isObject(value) &&
    isDigest(value.digest) &&
    isDigest(value.diffId) &&
    typeof value.size === "number" &&
    typeof value.mediaType === "string" &&
    typeof value.tarSize === "number" &&
    (value.auto === undefined || isAutoDecision(value.auto))
  );
}
