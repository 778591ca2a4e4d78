/** The gc test every storage driver runs: images written through two registry instances on one store. */
import { describe, expect, test } from "bun:test";
import type { StorageDriver } from "../../src/registry/driver/driver.ts";
import { collectGarbage } from "../../src/registry/gc.ts";
import { createTestClient, pushImageParts, sha256 } from "./helpers.ts";
import { grid, pushNative, pushReference } from "./partition-fixtures.ts";

/** `driverOfStore()` gives a driver on the same store each time (a second instance, as replicas are). */
export function runGcSuite(name: string, driverOfStore: () => Promise<StorageDriver>): void {
  describe(`gc on ${name}`, () => {
    test("sweeps unreferenced blobs, keeps every allotment a reference field lists, honours --dry-run, marks from every instance's tags", async () => {
      const driver = await driverOfStore();
      const c = createTestClient({ driver });
      // A second registry instance on the same store writes some of the images.
      const other = createTestClient({ driver: await driverOfStore() });
      await pushReference(other, "ref", "v1", grid(2, 2));
      await pushNative(c, "nat", "v1", grid(1, 2));
      const orphan = await c.pushBlob("nat", "nobody references me");
      const gone = await other.pushManifest("tmp", "t", await pushImageParts(other, "tmp", "unique to tmp"));
      await c.req("DELETE", `/v2/tmp/manifests/${gone.digest}`);

      const dry = await collectGarbage(driver, { dryRun: true });
      // tmp's config is unreferenced too (the native fixture's base config is shared with the reference image).
      const tmpConfig = sha256(JSON.stringify({ architecture: "amd64", os: "linux", rootfs: { type: "layers", diff_ids: [sha256("unique to tmp")] } }));
      expect(dry.deleted.sort()).toEqual([orphan, sha256("unique to tmp"), gone.digest, tmpConfig].sort());
      expect(dry.bytesFreed).toBeGreaterThan(0);
      expect((await c.req("HEAD", `/v2/nat/blobs/${orphan}`)).status).toBe(200);

      const real = await collectGarbage(driver, { dryRun: false });
      expect(real.deleted.sort()).toEqual(dry.deleted.sort());
      expect((await c.req("HEAD", `/v2/nat/blobs/${orphan}`)).status).toBe(404);
      // The reference image's allotments are referenced only from inside its field blob.
      const partition = await c.req("GET", "/v2/ref/manifests/v1--0.0.1.1");
      const doc = (await partition.json()) as { layers: { digest: string }[] };
      for (const layer of doc.layers) expect((await c.req("HEAD", `/v2/ref/blobs/${layer.digest}`)).status).toBe(200);
      const nat = (await (await c.req("GET", "/v2/nat/manifests/v1")).json()) as { layers: { digest: string }[] };
      for (const layer of nat.layers) expect((await c.req("HEAD", `/v2/nat/blobs/${layer.digest}`)).status).toBe(200);
      expect((await collectGarbage(driver, { dryRun: false })).deleted).toEqual([]);
    });
  });
}
