/**
 * The allotment cache. Its key covers what decides an allotment's bytes: each file's
 * dst, mode, and source identity (device, inode, size, mtime, ctime, mode: the stat
 * cache, so an unchanged source is never re-read), a stored symlink's target, plus the
 * compression asked for. A hit
 * is trusted only when its blob is still in the store with the recorded size.
 */
import { readFileSync, statSync } from "node:fs";
import { mkdir } from "node:fs/promises";
import { join } from "node:path";
import type { LayoutStore } from "../content/layout-store.ts";
import { atomicWrite } from "../content/layout-store.ts";
import type { Digest } from "../oci/digest.ts";
import { isDigest } from "../oci/digest.ts";
import { isObject } from "../oci/json.ts";
import { sha256Bytes } from "../hash/sha256.ts";
import type { SourceFile } from "./sources.ts";

/** Bump when the layer bytes for the same inputs would change (tar writer, compression). 2: symlinks stored as links. */
const CACHE_VERSION = 2;

/** A built allotment layer as the cache remembers it. */
export interface CachedLayer {
  digest: Digest;
  diffId: Digest;
  size: number;
  mediaType: string;
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
    async put(key, layer) {
      await mkdir(dir, { recursive: true });
      await atomicWrite(join(dir, `${key}.json`), JSON.stringify(layer), tmpDir, false);
    },
  };
}

function isCachedLayer(value: unknown): value is CachedLayer {
  return (
    isObject(value) &&
    isDigest(value.digest) &&
    isDigest(value.diffId) &&
    typeof value.size === "number" &&
    typeof value.mediaType === "string"
  );
}
