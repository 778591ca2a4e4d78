import { afterAll, describe, expect, test } from "bun:test";
import { existsSync, mkdirSync, readdirSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { decide } from "../../src/archive/auto-compression.ts";
import { pruneAutoDecisions, readAutoDecisions, recordAutoDecisions } from "../../src/builder/auto-decisions.ts";
import { createLayoutStore } from "../../src/content/layout-store.ts";
import { sha256Bytes } from "../../src/hash/sha256.ts";
import { makeTempDir } from "../support/temp.ts";

const { dir, cleanup } = await makeTempDir();
afterAll(cleanup);

const layerA = sha256Bytes("a");
const layerB = sha256Bytes("b");
const manifest = sha256Bytes("manifest");

describe("auto decisions, one record per manifest", () => {
  test("what is recorded for a manifest is read back per layer; other manifests have none", async () => {
    const store = await createLayoutStore(join(dir, "s1"));
    const kept = decide(65536, 0.93, 0.55, "zstd-1");
    const gzipped = decide(65536, 0.2, 0.55);
    recordAutoDecisions(store, manifest, { [layerA]: kept, [layerB]: gzipped });
    expect(readAutoDecisions(store, manifest)).toEqual({ [layerA]: kept, [layerB]: gzipped });
    expect(readAutoDecisions(store, sha256Bytes("other"))).toEqual({});
    // One file for the whole image, and the temp file is gone.
    expect(readdirSync(join(store.stateDir, "cache", "auto"))).toEqual([`${manifest.slice(7)}.json`]);
    expect(readdirSync(join(store.stateDir, "tmp"))).toEqual([]);
  });

  test("nothing to record writes nothing; the same record is not rewritten; a new one replaces it", async () => {
    const store = await createLayoutStore(join(dir, "s2"));
    recordAutoDecisions(store, manifest, {});
    expect(existsSync(join(store.stateDir, "cache", "auto"))).toBe(false);
    const first = decide(65536, 0.3, 0.55);
    recordAutoDecisions(store, manifest, { [layerA]: first });
    const path = join(store.stateDir, "cache", "auto", `${manifest.slice(7)}.json`);
    const inode = statSync(path).ino;
    recordAutoDecisions(store, manifest, { [layerA]: first });
    expect(statSync(path).ino).toBe(inode); // a no-op rebuild creates no file
    // Layers are built in parallel and finish in any order: the same decisions, met in another order, are the same record.
    const other = decide(65536, 0.9, 0.55);
    recordAutoDecisions(store, manifest, { [layerA]: first, [layerB]: other });
    const both = statSync(path).ino;
    recordAutoDecisions(store, manifest, { [layerB]: other, [layerA]: first });
    expect(statSync(path).ino).toBe(both);
    const later = decide(65536, 0.3, 0.2);
    recordAutoDecisions(store, manifest, { [layerA]: later });
    expect(readAutoDecisions(store, manifest)).toEqual({ [layerA]: later });
  });

  test("a damaged record reads as none, and malformed entries are dropped", async () => {
    const store = await createLayoutStore(join(dir, "s3"));
    const path = join(store.stateDir, "cache", "auto", `${manifest.slice(7)}.json`);
    recordAutoDecisions(store, manifest, { [layerA]: decide(65536, 0.3, 0.55) });
    writeFileSync(path, "{ not json");
    expect(readAutoDecisions(store, manifest)).toEqual({});
    const good = decide(65536, 0.3, 0.55);
    writeFileSync(path, JSON.stringify({ [layerA]: good, [layerB]: { sampleRatio: "low" } }));
    expect(readAutoDecisions(store, manifest)).toEqual({ [layerA]: good });
  });

  test("prune removes the records of manifests the store no longer keeps, past the grace period, and the old per-layer folder", async () => {
    const store = await createLayoutStore(join(dir, "s4"));
    const gone = sha256Bytes("gone");
    recordAutoDecisions(store, manifest, { [layerA]: decide(65536, 0.3, 0.55) });
    recordAutoDecisions(store, gone, { [layerB]: decide(65536, 0.3, 0.55) });
    const legacy = join(store.stateDir, "cache", "layers");
    mkdirSync(legacy, { recursive: true });
    writeFileSync(join(legacy, "old.json"), "{}");
    // Within the grace period nothing of a manifest's record goes: a build records before it names.
    expect(pruneAutoDecisions(store, new Set([manifest]), 60_000)).toBe(0);
    expect(Object.keys(readAutoDecisions(store, gone))).toEqual([layerB]);
    expect(existsSync(legacy)).toBe(false);
    expect(pruneAutoDecisions(store, new Set([manifest]), 0)).toBe(1);
    expect(readAutoDecisions(store, gone)).toEqual({});
    expect(Object.keys(readAutoDecisions(store, manifest))).toEqual([layerA]);
  });
});
