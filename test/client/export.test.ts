import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { extract } from "tar-stream";
import { fetchImageToStore } from "../../src/client/fetch-image.ts";
import { createRegistryClient } from "../../src/client/transport/registry-client.ts";
import { exportCommand } from "../../src/cmd/export.ts";
import { createLayoutStore } from "../../src/content/layout-store.ts";
import { type RunningRegistry, startDistribution } from "./support/distribution.ts";
import { type TestImage, buildFieldImage, pushTestImage } from "./support/images.ts";
import { sha256 } from "./support/layers.ts";

let registry: RunningRegistry;
let work: string;
let storeDir: string;
const images: Record<string, TestImage> = {};

beforeAll(async () => {
  registry = await startDistribution();
  work = await mkdtemp(join(tmpdir(), "2dfs-export-"));
  storeDir = join(work, "store");
  const store = await createLayoutStore(storeDir);
  const client = await createRegistryClient({ registry: registry.host, credentials: null });
  for (const format of ["native", "reference"] as const) {
    images[format] = await buildFieldImage({ rows: 2, cols: 2, format });
    await pushTestImage(client, `exp/${format}`, "v1", images[format]!);
    await store.setImage(`exp/${format}:v1`, await fetchImageToStore(client, `${registry.host}/exp/${format}:v1`, store));
  }
});
afterAll(async () => {
  await registry.stop();
  await rm(work, { recursive: true, force: true });
});

async function readTar(file: string): Promise<Map<string, Uint8Array>> {
  const x = extract();
  x.end(Buffer.from(await Bun.file(file).arrayBuffer()));
  const out = new Map<string, Uint8Array>();
  for await (const e of x) {
    const chunks: Uint8Array[] = [];
    for await (const c of e as AsyncIterable<Uint8Array>) chunks.push(c);
    out.set(e.header.name, Buffer.concat(chunks));
  }
  return out;
}

describe("export", () => {
  for (const format of ["native", "reference"] as const) {
    test(`docker format of a ${format} partition: manifest.json lists the base and the selected allotments, each blob intact`, async () => {
      const file = join(work, `${format}.tar`);
      await exportCommand(`exp/${format}:v1--0.1.1.1`, { output: file, store: storeDir });
      const members = await readTar(file);
      const [manifest] = JSON.parse(new TextDecoder().decode(members.get("manifest.json")));
      expect(manifest.RepoTags).toEqual([`exp/${format}:v1--0.1.1.1`]);
      const image = images[format]!;
      const selected = image.allotments.filter((a) => a.col === 1).map((a) => a.layer.digest);
      expect(manifest.Layers.length).toBe(3);
      expect(manifest.Layers.slice(1)).toEqual(selected.map((d) => `blobs/sha256/${d.slice(7)}`));
      for (const path of [manifest.Config, ...manifest.Layers]) expect(sha256(members.get(path)!)).toBe(`sha256:${path.split("/").pop()}`);
      const config = JSON.parse(new TextDecoder().decode(members.get(manifest.Config)));
      expect(config.rootfs.diff_ids.slice(1)).toEqual(image.allotments.filter((a) => a.col === 1).map((a) => a.diffId));
      if (Bun.which("skopeo")) {
        const p = Bun.spawnSync(["skopeo", "inspect", "--raw", `docker-archive:${file}`]);
        expect(p.exitCode).toBe(0);
      }
    });
  }

  test("the plain tag of a reference image exports as its whole field flattened: manifest.json and config agree", async () => {
    const file = join(work, "reference-plain.tar");
    await exportCommand("exp/reference:v1", { output: file, store: storeDir });
    const members = await readTar(file);
    const [manifest] = JSON.parse(new TextDecoder().decode(members.get("manifest.json")));
    const config = JSON.parse(new TextDecoder().decode(members.get(manifest.Config)));
    const image = images.reference!;
    // The base layer, then every allotment in row-major order; the field blob is no layer.
    expect(manifest.Layers.slice(1)).toEqual(image.allotments.map((a) => `blobs/sha256/${a.layer.digest.slice(7)}`));
    expect(config.rootfs.diff_ids.length).toBe(manifest.Layers.length);
    expect(config.rootfs.diff_ids.slice(1)).toEqual(image.allotments.map((a) => a.diffId));
    for (const path of manifest.Layers) expect(members.has(path)).toBe(true);
  });

  test("oci format: an OCI layout tar with the tag as ref name that skopeo reads", async () => {
    const file = join(work, "oci.tar");
    await exportCommand("exp/native:v1--1.0.1.1", { output: file, store: storeDir, format: "oci" });
    const members = await readTar(file);
    const index = JSON.parse(new TextDecoder().decode(members.get("index.json")));
    expect(index.manifests[0].annotations["org.opencontainers.image.ref.name"]).toBe("v1--1.0.1.1");
    const manifest = JSON.parse(new TextDecoder().decode(members.get(`blobs/sha256/${index.manifests[0].digest.slice(7)}`)));
    expect(manifest.layers.length).toBe(3);
    if (Bun.which("skopeo")) {
      const p = Bun.spawnSync(["skopeo", "inspect", `oci-archive:${file}:v1--1.0.1.1`]);
      expect(p.stderr.toString()).toBe("");
      expect(JSON.parse(p.stdout.toString()).Layers.length).toBe(3);
    }
  });
});
