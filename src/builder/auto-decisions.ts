/**
 * What `--compression auto` decided for each layer of an image built in this store, so `image
 * inspect` can say why a layer is (not) compressed without a manifest annotation: annotations
 * would change every manifest, and copy tools drop layer annotations anyway.
 *
 * One file per platform manifest built (`.2dfs/cache/auto/<manifest hex>.json`, layer digest ->
 * decision), not one per layer: creating a file is the dearest part of recording (ext4 inode
 * allocation), and one per layer made `auto` cost 41 more of them on the model set of
 * bench/build.ts than `gzip` or `none`.
 */
import { mkdirSync, readdirSync, readFileSync, rmSync, statSync } from "node:fs";
import { dirname, join } from "node:path";
import type { AutoDecision } from "../archive/auto-compression.ts";
import { replaceFileSync, type LayoutStore } from "../content/layout-store.ts";
import type { Digest } from "../oci/digest.ts";
import { isObject } from "../oci/json.ts";

/** Layer digest -> what `auto` decided for it. */
export type AutoDecisions = Record<Digest, AutoDecision>;

const decisionsPath = (store: LayoutStore, manifest: Digest) => join(store.stateDir, "cache", "auto", `${manifest.slice(7)}.json`);

/**
 * Records the decisions behind the manifest `manifest` (the last build that made it wins: another
 * --min-saving can decide the same); a record that already says so is not written again, so a
 * rebuild with nothing to do creates no file.
 */
export function recordAutoDecisions(store: LayoutStore, manifest: Digest, decisions: AutoDecisions): void {
  if (Object.keys(decisions).length === 0) return;
  const path = decisionsPath(store, manifest);
  // By digest: layers finish in whatever order the threads take, and the same decisions must
  // read the same for the comparison below.
  const text = JSON.stringify(Object.fromEntries(Object.entries(decisions).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))));
  if (readIfPresent(path) === text) return;
  mkdirSync(dirname(path), { recursive: true });
  replaceFileSync(path, text, join(store.stateDir, "tmp"));
}

function readIfPresent(path: string): string | undefined {
  try {
    return readFileSync(path, "utf8");
  } catch {
    return undefined;
  }
}

/** The decisions recorded for `manifest`: empty when it was pulled, built with a codec asked for, or the record is damaged. */
export function readAutoDecisions(store: LayoutStore, manifest: Digest): AutoDecisions {
  let entry: unknown;
  try {
    entry = JSON.parse(readIfPresent(decisionsPath(store, manifest)) ?? "{}");
  } catch {
    return {};
  }
  if (!isObject(entry)) return {};
  return Object.fromEntries(Object.entries(entry).filter(([, d]) => isAutoDecision(d))) as AutoDecisions;
}

export function isAutoDecision(value: unknown): value is AutoDecision {
  return (
    isObject(value) &&
    typeof value.sampleBytes === "number" &&
    typeof value.sampleRatio === "number" &&
    (value.estimator === "zstd-1" || value.estimator === "deflate-6") &&
    typeof value.minSaving === "number" &&
    typeof value.compress === "boolean"
  );
}

/**
 * Removes the records of manifests no longer in the store (`kept`: "sha256:<hex>" of what stays),
 * leaving those younger than `graceMs` (a build records before it names its image), and the
 * per-layer records of earlier versions (`cache/layers/`). Returns how many records went.
 */
export function pruneAutoDecisions(store: LayoutStore, kept: Set<string>, graceMs: number): number {
  rmSync(join(store.stateDir, "cache", "layers"), { recursive: true, force: true });
  const dir = join(store.stateDir, "cache", "auto");
  let removed = 0;
  for (const name of readdirSafe(dir)) {
    const path = join(dir, name);
    if (!name.endsWith(".json") || kept.has(`sha256:${name.slice(0, -5)}`)) continue;
    const info = statSync(path, { throwIfNoEntry: false });
    if (!info || Date.now() - info.mtimeMs < graceMs) continue;
    rmSync(path, { force: true });
    removed++;
  }
  return removed;
}

function readdirSafe(dir: string): string[] {
  try {
    return readdirSync(dir);
  } catch {
    return [];
  }
}
