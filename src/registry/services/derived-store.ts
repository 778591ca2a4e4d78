/**
 * Generated partition documents (index, manifests, configs) kept by digest so clients can
 * fetch them after resolving a partition tag, also after a restart. It is a cache, never a
 * tag: bounded in count and bytes (oldest written go first), and each document keeps a tiny
 * recipe (repository, base manifest, rectangles) so an evicted one can be generated again.
 * The same bytes are often derived by several repositories (one field pushed twice, or the same
 * config from differently compressed fields), so a document records one recipe per repository
 * that derived it, in memory and on disk, and is served to each of them (and to no other).
 * In read-only mode nothing is written: a bounded in-memory map stands in.
 */
import type { Digest } from "../../oci/digest.ts";
import type { Rect } from "../../oci/partition-suffix.ts";
import type { StorageDriver } from "../driver/driver.ts";
import { createKeyedLock } from "../storage/keyed-lock.ts";
import { createLru } from "../storage/lru.ts";
import { derivedDocPath, derivedRecipePath } from "../storage/paths.ts";

/** A document served by digest. */
export interface ServedDoc {
  digest: Digest;
  mediaType: string;
  bytes: Uint8Array;
}

/** How a derived document was made, and by which repository. */
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
  /** Repositories remembered per document; past it the one recorded longest ago is forgotten (it re-registers on its next partition request). */
  maxNamesPerDoc: number;
}

/** Defaults: enough for thousands of partitions, a few hundred MB at most. */
export const DEFAULT_DERIVED_LIMITS: DerivedLimits = {
  maxDocs: 20_000,
  maxBytes: 256 << 20,
  maxRecipes: 200_000,
  maxMemoryBytes: 64 << 20,
  maxNamesPerDoc: 1_000,
};

/** The derived-document store. */
export interface DerivedStore {
  /** Records that repository `recipe.name` derived `doc` (a no-op when already recorded). */
  put(doc: ServedDoc, recipe: Recipe): Promise<void>;
  /**
   * The document and the recipe by which repository `name` derived it, or undefined when `name`
   * never derived it; `doc` is undefined when evicted but the recipe remains.
   */
  get(digest: Digest, name: string): Promise<{ doc?: ServedDoc; recipe: Recipe } | undefined>;
}

interface Entry {
  doc: ServedDoc;
  /** By repository name, oldest recorded first. */
  recipes: Map<string, Recipe>;
}

/** Creates the derived store over a driver (persistent) or in memory only (`readOnly`). */
export function createDerivedStore(driver: StorageDriver, opts: { readOnly: boolean; limits?: Partial<DerivedLimits> }): DerivedStore {
  const limits = { ...DEFAULT_DERIVED_LIMITS, ...opts.limits };
  const memory = createLru<Digest, Entry>({
    maxEntries: limits.maxDocs,
    maxWeight: limits.maxMemoryBytes,
    weigh: (e) => e.doc.bytes.byteLength + 256 * e.recipes.size,
  });
  const docs = createBoundedArea(driver, "_derived/docs", limits.maxDocs, limits.maxBytes);
  const recipes = createBoundedArea(driver, "_derived/recipes", limits.maxRecipes, Number.MAX_SAFE_INTEGER);
  const encoder = new TextEncoder();
  // The recipe record of a digest is read, merged and rewritten; one writer per digest at a time.
  const locked = createKeyedLock();

  const readRecipes = async (digest: Digest): Promise<Map<string, Recipe>> => {
    const bytes = await driver.read(derivedRecipePath(digest));
    return bytes ? parseRecipeRecord(bytes) : new Map();
  };

  return {
    async put(doc, recipe) {
      const known = memory.get(doc.digest);
      if (known?.recipes.has(recipe.name)) return;
      if (opts.readOnly) {
        const byName = new Map(known?.recipes);
        addRecipe(byName, recipe, limits.maxNamesPerDoc);
        memory.set(doc.digest, { doc, recipes: byName });
        return;
      }
      await locked(doc.digest, async () => {
        const onDisk = await readRecipes(doc.digest);
        if (!sameRecipe(onDisk.get(recipe.name), recipe)) {
          addRecipe(onDisk, recipe, limits.maxNamesPerDoc);
          await recipes.add(derivedRecipePath(doc.digest), toRecipeRecord(onDisk));
        }
        if (!(await driver.stat(derivedDocPath(doc.digest)))) await docs.add(derivedDocPath(doc.digest), doc.bytes);
        memory.set(doc.digest, { doc, recipes: onDisk });
      });
    },
    async get(digest, name) {
      const hit = memory.get(digest);
      const known = hit?.recipes.get(name);
      if (known) return { doc: hit!.doc, recipe: known };
      if (opts.readOnly) return undefined;
      const onDisk = await readRecipes(digest);
      const recipe = onDisk.get(name);
      if (!recipe) return undefined;
      const bytes = await driver.read(derivedDocPath(digest));
      if (!bytes) return { recipe };
      const doc = { digest, mediaType: recipe.mediaType, bytes };
      memory.set(digest, { doc, recipes: onDisk });
      return { doc, recipe };
    },
  };

  function toRecipeRecord(byName: Map<string, Recipe>): Uint8Array {
    return encoder.encode(JSON.stringify({ recipes: [...byName.values()] }));
  }
}

function addRecipe(byName: Map<string, Recipe>, recipe: Recipe, max: number) {
  byName.delete(recipe.name);
  byName.set(recipe.name, recipe);
  while (byName.size > max) byName.delete(byName.keys().next().value as string);
}

function sameRecipe(a: Recipe | undefined, b: Recipe): boolean {
  return a !== undefined && a.base === b.base && a.mediaType === b.mediaType && JSON.stringify(a.rects) === JSON.stringify(b.rects);
}

// The record is {"recipes":[...]}; a bare recipe object is the one-repository record of earlier
// versions. An unreadable record is an empty one: this is a cache, and the next partition request
// records its repository again.
function parseRecipeRecord(bytes: Uint8Array): Map<string, Recipe> {
  let doc: unknown;
  try {
    doc = JSON.parse(new TextDecoder().decode(bytes));
  } catch {
    return new Map();
  }
  const record = doc as { recipes?: unknown } | null;
  const list = (Array.isArray(record?.recipes) ? record.recipes : [record]) as (Recipe | null)[];
  return new Map(list.filter((r): r is Recipe => typeof r?.name === "string").map((r) => [r.name, r]));
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
