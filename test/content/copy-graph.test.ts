import { afterAll, describe, expect, test } from "bun:test";
import { mkdir, readdir, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { copyGraph } from "../../src/content/copy-graph.ts";
import { openLayoutSource } from "../../src/content/layout-source.ts";
import { createLayoutStore } from "../../src/content/layout-store.ts";
import type { Descriptor } from "../../src/oci/descriptor.ts";
import { makeTempDir, seededBytes } from "../support/temp.ts";

const { dir, cleanup } = await makeTempDir("2dfs-copy-graph-");
afterAll(cleanup);

const sha = (bytes: Uint8Array | string) => `sha256:${new Bun.CryptoHasher("sha256").update(bytes).digest("hex")}` as const;

/** A one-image OCI layout: a 3 MB layer, a config, a manifest, index.json; returns the manifest's descriptor. */
async function makeLayout(root: string, layer: Uint8Array): Promise<{ manifest: Descriptor; layer: Descriptor }> {
  const blobs = join(root, "blobs", "sha256");
  await mkdir(blobs, { recursive: true });
  const put = async (bytes: Uint8Array | string) => {
    const digest = sha(bytes);
    await writeFile(join(blobs, digest.slice(7)), bytes);
    return { digest, size: typeof bytes === "string" ? Buffer.byteLength(bytes) : bytes.length };
  };
  const layerDesc = { mediaType: "application/vnd.oci.image.layer.v1.tar", ...(await put(layer)) };
  const config = JSON.stringify({ architecture: "amd64", os: "linux", rootfs: { type: "layers", diff_ids: [layerDesc.digest] } });
  const configDesc = { mediaType: "application/vnd.oci.image.config.v1+json", ...(await put(config)) };
  const manifest = JSON.stringify({ schemaVersion: 2, mediaType: "application/vnd.oci.image.manifest.v1+json", config: configDesc, layers: [layerDesc] });
  const manifestDesc = { mediaType: "application/vnd.oci.image.manifest.v1+json", ...(await put(manifest)) };
  await writeFile(join(root, "index.json"), JSON.stringify({ schemaVersion: 2, manifests: [manifestDesc] }));
  await writeFile(join(root, "oci-layout"), JSON.stringify({ imageLayoutVersion: "1.0.0" }));
  return { manifest: manifestDesc as Descriptor, layer: layerDesc as Descriptor };
}

describe("copyGraph from an image layout", () => {
  const layer = seededBytes(3_000_000, 11);

  test("copies every blob, byte for byte, and nothing twice", async () => {
    const { manifest, layer: layerDesc } = await makeLayout(join(dir, "good"), layer);
    const store = await createLayoutStore(join(dir, "store-good"));
    expect(await copyGraph(openLayoutSource(join(dir, "good")), manifest, store)).toEqual({ copied: 2, present: 0 });
    expect(new Uint8Array(await Bun.file(store.blobPath(layerDesc.digest)).arrayBuffer())).toEqual(layer);
    expect(await copyGraph(openLayoutSource(join(dir, "good")), manifest, store)).toEqual({ copied: 0, present: 2 });
  });

  test("a tampered layer (same size, other bytes) fails with a digest error and is not stored", async () => {
    const root = join(dir, "tampered");
    const { manifest, layer: layerDesc } = await makeLayout(root, layer);
    const bad = layer.slice();
    bad[1_234_567]! ^= 0xff;
    await writeFile(join(root, "blobs", "sha256", layerDesc.digest.slice(7)), bad);
    const store = await createLayoutStore(join(dir, "store-tampered"));
    await expect(copyGraph(openLayoutSource(root), manifest, store)).rejects.toThrow(/digest mismatch/);
    expect(await store.hasBlob(layerDesc.digest)).toBe(false);
    expect(await readdir(join(store.stateDir, "tmp"))).toEqual([]);
  });

  test("a truncated layer fails on its size", async () => {
    const root = join(dir, "short");
    const { manifest, layer: layerDesc } = await makeLayout(root, layer);
    await writeFile(join(root, "blobs", "sha256", layerDesc.digest.slice(7)), layer.subarray(0, 1000));
    const store = await createLayoutStore(join(dir, "store-short"));
    await expect(copyGraph(openLayoutSource(root), manifest, store)).rejects.toThrow(/is 1000 bytes, expected 3000000/);
    expect(await store.hasBlob(layerDesc.digest)).toBe(false);
  });
});
