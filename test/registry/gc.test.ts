import { expect, test } from "bun:test";
import { collectGarbage } from "../../src/registry/gc.ts";
import { createMemoryDriver } from "../../src/registry/driver/memory.ts";
import { runGcSuite } from "./gc-suite.ts";
import { createTestClient, pushImageParts, sha256 } from "./helpers.ts";
import { grid, pushNative, pushReference } from "./partition-fixtures.ts";

const memory = createMemoryDriver();
runGcSuite("memory", async () => memory);

test("gc refuses to run when a field blob cannot be read", async () => {
  const c = createTestClient();
  const pushed = await pushReference(c, "ref", "v1", grid(1, 1));
  // By digest: the plain tag of a reference image is served flattened, without its field blob.
  const manifest = (await (await c.req("GET", `/v2/ref/manifests/${pushed.digest}`)).json()) as { layers: { mediaType: string; digest: string }[] };
  const field = manifest.layers.find((l) => l.mediaType.endsWith("2dfs.field"))!;
  const hex = field.digest.slice(7);
  await c.driver.write(`blobs/sha256/${hex.slice(0, 2)}/${hex}/data`, new TextEncoder().encode("{broken"));
  await expect(collectGarbage(c.driver, { dryRun: false })).rejects.toThrow(/malformed.*nothing was deleted/);
});

test("gc removes upload sessions idle past the limit and keeps recent ones", async () => {
  const c = createTestClient();
  const started = async () => {
    const r = await c.req("POST", "/v2/up/load/blobs/uploads/");
    expect(r.status).toBe(202);
    const path = new URL(r.headers.get("location")!, "http://localhost").pathname;
    const patched = await c.req("PATCH", path, { body: "some bytes", headers: { "Content-Type": "application/octet-stream", "Content-Range": "0-9" } });
    expect(patched.status).toBe(202);
    return path;
  };
  await pushNative(c, "up/load", "v1", grid(1, 1)); // the repository must exist for gc to visit it
  const old = await started();
  const hour = 3600_000;
  // Seen from 25 hours later, the session is abandoned; from 1 hour later it is not.
  expect((await collectGarbage(c.driver, { dryRun: true, now: Date.now() + hour })).uploadsDeleted).toEqual([]);
  const later = await collectGarbage(c.driver, { dryRun: false, now: Date.now() + 25 * hour });
  expect(later.uploadsDeleted).toHaveLength(1);
  expect((await c.req("GET", old)).status).toBe(404);
  const fresh = await started();
  expect((await collectGarbage(c.driver, { dryRun: false })).uploadsDeleted).toEqual([]);
  expect((await c.req("GET", fresh)).status).toBe(204);
});
