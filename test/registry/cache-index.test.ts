/** The edge's index of upstream blobs (src/registry/upstream/cache-index.ts) across a restart. */
import { expect, test } from "bun:test";
import { createMemoryDriver } from "../../src/registry/driver/memory.ts";
import { createMetrics } from "../../src/registry/metrics.ts";
import { blobDataPath } from "../../src/registry/storage/paths.ts";
import { createCacheIndex } from "../../src/registry/upstream/cache-index.ts";
import { sha256 } from "./helpers.ts";

const cacheBytes = (text: string) => Number(/tdfs_cache_bytes\{[^}]*\} (\d+)/.exec(text)?.[1]);

test("a restart keeps the records of blobs still stored and drops those whose blob went (gc while the edge was down)", async () => {
  const driver = createMemoryDriver();
  const [kept, collected] = [sha256("kept"), sha256("collected")];
  await driver.write(blobDataPath(kept), new Uint8Array(100));
  await driver.write(blobDataPath(collected), new Uint8Array(200));
  const first = await createCacheIndex(driver, createMetrics("edge"), undefined, () => {});
  await first.add(kept, 100, "r");
  await first.add(collected, 200, "r");

  // What `2dfs gc` does to an unreferenced blob: its data goes, the cache's record stays.
  await driver.delete(blobDataPath(collected));
  const metrics = createMetrics("edge");
  const lines: string[] = [];
  await createCacheIndex(driver, metrics, undefined, (l) => lines.push(l));
  expect(cacheBytes(metrics.render())).toBe(100);
  expect(await driver.list("_upstream/blobs")).toEqual([kept.replace(":", "-")]);
  expect(lines).toEqual(["cache: 1 record(s) of blobs no longer stored dropped (removed by gc?)"]);
});
