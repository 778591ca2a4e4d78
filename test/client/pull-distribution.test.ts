import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { mkdtemp, readFile, readdir, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join, relative } from "node:path";
import { createLayoutStore } from "../../src/content/layout-store.ts";
import { pullImage } from "../../src/client/pull-image.ts";
import { createRegistryClient, type RegistryClient } from "../../src/client/transport/registry-client.ts";
import { EmptySelectionError } from "../../src/field/field.ts";
import { type RunningRegistry, startDistribution } from "./support/distribution.ts";
import { type TestImage, buildFieldImage, pushTestImage } from "./support/images.ts";
import { makeTar, sha256 } from "./support/layers.ts";
import { uploadBlob } from "../../src/client/transport/blob-upload.ts";
import { UnsafeEntryError } from "../../src/client/errors.ts";
import { fetchImageToStore } from "../../src/client/fetch-image.ts";
import { hostPlatform } from "../../src/oci/host-platform.ts";
import { mkdir, writeFile } from "node:fs/promises";

let registry: RunningRegistry;
let client: RegistryClient;
let work: string;
const images: Record<string, TestImage> = {};

beforeAll(async () => {
  registry = await startDistribution();
  client = await createRegistryClient({ registry: registry.host, credentials: null });
  work = await mkdtemp(join(tmpdir(), "2dfs-pull-"));
  images.native = await buildFieldImage({ rows: 2, cols: 3, format: "native" });
  images.reference = await buildFieldImage({ rows: 2, cols: 3, format: "reference" });
  await pushTestImage(client, "field/native", "v1", images.native);
  await pushTestImage(client, "field/reference", "v1", images.reference);
});

afterAll(async () => {
  await registry.stop();
  await rm(work, { recursive: true, force: true });
});

async function listFiles(dir: string): Promise<Record<string, string>> {
  const out: Record<string, string> = {};
  for (const entry of await readdir(dir, { recursive: true, withFileTypes: true })) {
    if (entry.isFile()) {
      const path = join(entry.parentPath, entry.name);
      out[relative(dir, path)] = await readFile(path, "utf8");
    }
  }
  return out;
}

function expectedFiles(image: TestImage, cells: [number, number][]): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [r, c] of cells) Object.assign(out, image.allotments.find((a) => a.row === r && a.col === c)!.files);
  return out;
}

describe("pull from the distribution registry (client-side partitioning)", () => {
  test("the plain tag of a reference image as an OCI layout: its whole field flattened, every blob referenced", async () => {
    const store = await createLayoutStore(join(work, "store-reference-plain"));
    const dir = join(work, "out-reference-plain");
    await pullImage(`${registry.host}/field/reference:v1`, { dir, store, format: "oci", client });
    const blob = async (digest: string) => readFile(join(dir, "blobs", "sha256", digest.slice(7)));
    const index = JSON.parse(await readFile(join(dir, "index.json"), "utf8"));
    const manifest = JSON.parse((await blob(index.manifests[0].digest)).toString());
    const config = JSON.parse((await blob(manifest.config.digest)).toString());
    const image = images.reference!;
    expect(manifest.layers.slice(1).map((l: { digest: string }) => l.digest)).toEqual(image.allotments.map((a) => a.layer.digest));
    expect(config.rootfs.diff_ids.length).toBe(manifest.layers.length);
    const referenced = [index.manifests[0].digest, manifest.config.digest, ...manifest.layers.map((l: { digest: string }) => l.digest)].map((d) => d.slice(7));
    expect((await readdir(join(dir, "blobs", "sha256"))).sort()).toEqual([...new Set(referenced)].sort());
  });

  for (const format of ["native", "reference"] as const) {
    test(`${format} field: a partition gives exactly the selected allotments' files`, async () => {
      const store = await createLayoutStore(join(work, `store-${format}`));
      const dir = join(work, `out-${format}`);
      const result = await pullImage(`${registry.host}/field/${format}:v1--0.1.1.2`, { dir, store, format: "files", client });
      expect(await listFiles(dir)).toEqual(expectedFiles(images[format]!, [[0, 1], [0, 2], [1, 1], [1, 2]]));
      expect(result.downloaded).toBe(4);
    });
  }

  test("native and reference pulls of the same selection give the same files byte for byte", async () => {
    const store = await createLayoutStore(join(work, "store-same"));
    const a = join(work, "same-a");
    const b = join(work, "same-b");
    await pullImage(`${registry.host}/field/native:v1+0.0.0.0+1.2.1.2`, { dir: a, store, client });
    await pullImage(`${registry.host}/field/reference:v1--0.0.0.0--1.2.1.2`, { dir: b, store, client });
    const files = await listFiles(a);
    expect(Object.keys(files).length).toBe(2);
    expect(await listFiles(b)).toEqual(files);
  });

  test("a wider partition after a narrower one downloads only the new allotments", async () => {
    const store = await createLayoutStore(join(work, "store-incr"));
    const first = await pullImage(`${registry.host}/field/native:v1--0.0.0.1`, { dir: join(work, "incr-1"), store, client });
    expect(first).toMatchObject({ downloaded: 2, cached: 0 });
    const second = await pullImage(`${registry.host}/field/native:v1--0.0.1.1`, { dir: join(work, "incr-2"), store, client });
    expect(second).toMatchObject({ downloaded: 2, cached: 2 });
  });

  test("rootfs applies the base layer and the allotments", async () => {
    const store = await createLayoutStore(join(work, "store-rootfs"));
    const dir = join(work, "rootfs");
    await pullImage(`${registry.host}/field/reference:v1--1.0.1.0`, { dir, store, client, format: "rootfs" });
    expect(await listFiles(dir)).toEqual({ "etc/base.conf": "base\n", ...expectedFiles(images.reference!, [[1, 0]]) });
  });

  test("an empty selection fails and creates nothing", async () => {
    const store = await createLayoutStore(join(work, "store-empty"));
    const dir = join(work, "empty");
    await expect(pullImage(`${registry.host}/field/native:v1--5.5.6.6`, { dir, store, client })).rejects.toBeInstanceOf(EmptySelectionError);
    expect(await readdir(dir).catch(() => "missing")).toBe("missing");
  });

  test("--format oci writes a layout whose manifest lists only the selected allotments", async () => {
    const store = await createLayoutStore(join(work, "store-oci"));
    const dir = join(work, "oci");
    await pullImage(`${registry.host}/field/reference:v1--0.0.0.1`, { dir, store, client, format: "oci" });
    const index = JSON.parse(await readFile(join(dir, "index.json"), "utf8"));
    expect(index.manifests[0].annotations["org.opencontainers.image.ref.name"]).toBe("v1--0.0.0.1");
    const manifest = JSON.parse(await readFile(join(dir, "blobs/sha256", index.manifests[0].digest.slice(7)), "utf8"));
    const want = images.reference!.allotments.filter((a) => a.row === 0 && a.col <= 1).map((a) => a.layer.digest);
    expect(manifest.layers.slice(1).map((l: { digest: string }) => l.digest)).toEqual(want);
    const config = JSON.parse(await readFile(join(dir, "blobs/sha256", manifest.config.digest.slice(7)), "utf8"));
    expect(config.rootfs.diff_ids.length).toBe(3);
    for (const l of manifest.layers) expect(await Bun.file(join(dir, "blobs/sha256", l.digest.slice(7))).exists()).toBe(true);
    if (Bun.which("skopeo")) {
      const proc = Bun.spawnSync(["skopeo", "inspect", "--raw", `oci:${dir}:v1--0.0.0.1`]);
      expect(proc.exitCode).toBe(0);
    }
  });

  test("a crafted layer that tries to escape fails the pull and leaves the folder and its surroundings unchanged", async () => {
    const outside = join(work, "crafted-outside");
    const evil = await makeTar([
      { name: "ok.txt", content: "fine" },
      { name: "esc", type: "symlink", linkname: "../crafted-outside" },
      { name: "esc/pwned", content: "pwned" },
    ]);
    const layer = { digest: sha256(evil), size: evil.byteLength };
    const platform = hostPlatform();
    const config = new TextEncoder().encode(JSON.stringify({ architecture: platform.architecture, os: platform.os, rootfs: { type: "layers", diff_ids: [layer.digest] } }));
    await uploadBlob(client, "evil/img", layer, new Blob([evil]));
    await uploadBlob(client, "evil/img", { digest: sha256(config), size: config.byteLength }, new Blob([config]));
    const manifest = {
      schemaVersion: 2,
      mediaType: "application/vnd.oci.image.manifest.v1+json",
      config: { mediaType: "application/vnd.oci.image.config.v1+json", digest: sha256(config), size: config.byteLength },
      layers: [{ mediaType: "application/vnd.oci.image.layer.v1.tar", ...layer }],
    };
    await client.putManifest("evil/img", "v1", new TextEncoder().encode(JSON.stringify(manifest)), manifest.mediaType);
    const dir = join(work, "crafted");
    await mkdir(dir);
    await writeFile(join(dir, "mine.txt"), "mine");
    const store = await createLayoutStore(join(work, "store-crafted"));
    await expect(pullImage(`${registry.host}/evil/img:v1`, { dir, store, client, format: "rootfs" })).rejects.toBeInstanceOf(UnsafeEntryError);
    expect(await readdir(dir)).toEqual(["mine.txt"]);
    expect(await readdir(outside).catch(() => "missing")).toBe("missing");
    expect((await readdir(work)).filter((n) => n.startsWith(".crafted"))).toEqual([]);
  });

  test("fetchImageToStore with a platform keeps only that platform in a filtered index", async () => {
    const mine = images.native!;
    const theirs = images.reference!;
    const other = { ...hostPlatform(), architecture: hostPlatform().architecture === "amd64" ? "arm64" : "amd64" };
    const entry = (img: TestImage, platform: object) => ({ mediaType: "application/vnd.oci.image.manifest.v1+json", digest: img.manifestDigest, size: img.manifest.byteLength, platform });
    // The other platform's entry points at the reference image, pushed to this repository too.
    await pushTestImage(client, "multi/img", "mine", mine);
    await pushTestImage(client, "multi/img", "theirs", theirs);
    const index = { schemaVersion: 2, mediaType: "application/vnd.oci.image.index.v1+json", manifests: [entry(mine, hostPlatform()), entry(theirs, other)] };
    await client.putManifest("multi/img", "v1", new TextEncoder().encode(JSON.stringify(index)), index.mediaType);
    const store = await createLayoutStore(join(work, "store-platform"));
    const root = await fetchImageToStore(client, `${registry.host}/multi/img:v1`, store, { platform: hostPlatform() });
    const filtered = JSON.parse(new TextDecoder().decode(await store.readBlob(root.digest)));
    expect(filtered.manifests).toEqual([entry(mine, hostPlatform())]);
    for (const b of mine.blobs) expect(await store.hasBlob(b.digest)).toBe(true);
    // Both images share their layer bytes; the field blob and manifest exist only in the other platform's image.
    const onlyTheirs = theirs.blobs.filter((b) => !mine.blobs.some((m) => m.digest === b.digest));
    expect(onlyTheirs.length).toBeGreaterThan(0);
    for (const b of onlyTheirs) expect(await store.hasBlob(b.digest)).toBe(false);
    expect(await store.hasBlob(theirs.manifestDigest)).toBe(false);
    await expect(fetchImageToStore(client, `${registry.host}/multi/img:v1`, store, { platform: { os: "windows", architecture: "amd64" } })).rejects.toThrow(/has no image for/);
  });
});
