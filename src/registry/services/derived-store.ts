/**
 * Generated partition documents (index, manifests, configs) kept by digest so clients can
 * fetch them after resolving a partition tag, also after a restart. It is a cache, never a
 * tag: bounded in count and bytes (oldest written go first), and each document keeps a tiny
 * recipe (repository, base manifest, rectangles) so an evicted one can be generated again.
 * In read-only mode nothing is written: a bounded in-memory map stands in.
 */
import type { Digest } from "../../oci/digest.ts";
import type { Rect } from "../../oci/partition-suffix.ts";
import type { StorageDriver } from "../driver/driver.ts";
import { createLru } from "../storage/lru.ts";
import { derivedDocPath, derivedRecipePath } from "../storage/paths.ts";

/** A document served by digest. */
export interface ServedDoc {
  digest: Digest;
  mediaType: string;
  bytes: Uint8Array;
}

/** How a derived document was made. */
export interface Recipe {
  name: string;
  base: Digest;
  rects: Rect[];
  mediaType: string;
}

/** Caps of the derived area. */
export interface DerivedLimits {
  maxDocs: number;
  maxBytes: number;
  maxRecipes: number;
  maxMemoryBytes: number;
}

/** Defaults: enough for thousands of partitions, a few hundred MB at most. */
export const DEFAULT_DERIVED_LIMITS: DerivedLimits = {
  maxDocs: 20_000,
  maxBytes: 256 << 20,
  maxRecipes: 200_000,
  maxMemoryBytes: 64 << 20,
};

/** The derived-document store. */
export interface DerivedStore {
  put(doc: ServedDoc, recipe: Recipe): Promise<void>;
  /** The document and its recipe; `doc` is undefined when evicted but the recipe remains. */
  get(digest: Digest): Promise<{ doc?: ServedDoc; recipe: Recipe } | undefined>;
}

interface Entry {
  doc: ServedDoc;
  recipe: Recipe;
}

/** Creates the derived store over a driver (persistent) or in memory only (`readOnly`). */
export function createDerivedStore(driver: StorageDriver, opts: { readOnly: boolean; limits?: Partial<DerivedLimits> }): DerivedStore {
  const limits = { ...DEFAULT_DERIVED_LIMITS, ...opts.limits };
  const memory = createLru<Digest, Entry>({
    maxEntries: limits.maxDocs,
    maxWeight: limits.maxMemoryBytes,
    weigh: (e) => e.doc.bytes.byteLength,
  });
  const docs = createBoundedArea(driver, "_derived/docs", limits.maxDocs, limits.maxBytes);
  const recipes = createBoundedArea(driver, "_derived/recipes", limits.maxRecipes, Number.MAX_SAFE_INTEGER);
  const encoder = new TextEncoder();

  return {
    async put(doc, recipe) {
      const known = memory.get(doc.digest);
      memory.set(doc.digest, { doc, recipe });
      if (opts.readOnly || known) return;
      if (!(await driver.stat(derivedRecipePath(doc.digest)))) {
        await recipes.add(derivedRecipePath(doc.digest), encoder.encode(JSON.stringify(recipe)));
      }
      if (!(await driver.stat(derivedDocPath(doc.digest)))) await docs.add(derivedDocPath(doc.digest), doc.bytes);
    },
    async get(digest) {
      const hit = memory.get(digest);
      if (hit) return hit;
      if (opts.readOnly) return undefined;
      const recipeBytes = await driver.read(derivedRecipePath(digest));
      if (!recipeBytes) return undefined;
      const recipe = JSON.parse(new TextDecoder().decode(recipeBytes)) as Recipe;
      const bytes = await driver.read(derivedDocPath(digest));
      if (!bytes) return { recipe };
      const doc = { digest, mediaType: recipe.mediaType, bytes };
      memory.set(digest, { doc, recipe });
      return { doc, recipe };
    },
  };
}

// A folder of files capped in count and bytes; the oldest files are deleted first. The order
// is rebuilt from the files' mtimes on first use, so caps hold across restarts.
function createBoundedArea(driver: StorageDriver, dir: string, maxCount: number, maxBytes: number) {
  let order: Map<string, number> | undefined;
  let bytes = 0;
  const init = async () => {
    if (order) return order;
    const found: { path: string; size: number; modified: number }[] = [];
    for (const name of await driver.list(dir)) {
      const path = `${dir}/${name}`;
      const s = await driver.stat(path);
      if (s) found.push({ path, size: s.size, modified: s.modified });
    }
    found.sort((a, b) => a.modified - b.modified);
    order = new Map(found.map((f) => [f.path, f.size]));
    bytes = found.reduce((n, f) => n + f.size, 0);
    return order;
  };
  return {
    async add(path: string, data: Uint8Array) {
      const files = await init();
      await driver.write(path, data);
      const old = files.get(path);
      if (old !== undefined) bytes -= old;
      files.delete(path);
      files.set(path, data.byteLength);
      bytes += data.byteLength;
      while (files.size > maxCount || (bytes > maxBytes && files.size > 1)) {
        const [oldest, size] = files.entries().next().value as [string, number];
        files.delete(oldest);
        bytes -= size;
        await driver.delete(oldest);
      }
    },
  };
}
