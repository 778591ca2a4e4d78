import { afterAll, describe, expect, test } from "bun:test";
import { Annotation } from "../../src/oci/annotations.ts";
import { MediaType } from "../../src/oci/media-types.ts";
import { createFilesystemDriver } from "../../src/registry/driver/filesystem.ts";
import { createTestClient, errorOf, pushImageParts, sha256, type TestClient } from "./helpers.ts";
import { createMemoryDriver } from "../../src/registry/driver/memory.ts";
import { grid, pushNative, pushReference, pushTwoPlatformIndex } from "./partition-fixtures.ts";
import { tempDirs } from "../support/temp.ts";

interface Doc {
  mediaType?: string;
  config: { digest: string; mediaType: string };
  layers: { mediaType: string; digest: string; size: number; annotations?: Record<string, string> }[];
  manifests: { digest: string; platform?: { architecture: string }; annotations?: Record<string, string> }[];
  annotations?: Record<string, string>;
}

async function get(c: TestClient, name: string, ref: string, method = "GET"): Promise<{ r: Response; digest: string; doc?: Doc }> {
  const r = await c.req(method, `/v2/${name}/manifests/${ref}`);
  const digest = r.headers.get("docker-content-digest") ?? "";
  if (method === "HEAD" || r.status !== 200) return { r, digest };
  const bytes = new Uint8Array(await r.arrayBuffer());
  expect(sha256(bytes) as string).toBe(digest);
  return { r, digest, doc: JSON.parse(new TextDecoder().decode(bytes)) as Doc };
}

const cellsOf = (doc: Doc) =>
  doc.layers.filter((l) => l.annotations?.[Annotation.tdfsRow] !== undefined).map((l) => `${l.annotations![Annotation.tdfsRow]},${l.annotations![Annotation.tdfsCol]}`);

const temp = tempDirs();
afterAll(temp.cleanup);
async function tempDir() {
  const d = await temp.make("2dfs-partitions-");
  return d;
}

for (const format of ["native", "reference"] as const) {
  const push = format === "native" ? pushNative : pushReference;
  describe(`partitions of a ${format}-format image`, () => {
    test("a rectangle selects exactly its allotments, in row-major order; config and manifest fetchable by digest", async () => {
      const c = createTestClient();
      await push(c, "f", "v1", grid(2, 3));
      const { r, digest, doc } = await get(c, "f", "v1--0.1.1.2");
      expect(r.status).toBe(200);
      expect(r.headers.get("content-type")).toBe(MediaType.ociManifest);
      expect(cellsOf(doc!)).toEqual(["0,1", "0,2", "1,1", "1,2"]);
      expect(doc!.layers.some((l) => l.mediaType === MediaType.tdfsField)).toBe(false);
      expect(doc!.layers).toHaveLength(5);
      const head = await get(c, "f", "v1--0.1.1.2", "HEAD");
      expect(head.digest).toBe(digest);
      expect(head.r.headers.get("content-length")).toBe(r.headers.get("content-length"));
      expect((await get(c, "f", digest)).digest).toBe(digest);
      const config = await c.req("GET", `/v2/f/blobs/${doc!.config.digest}`);
      expect(config.status).toBe(200);
      const configBytes = new Uint8Array(await config.arrayBuffer());
      expect(sha256(configBytes) as string).toBe(doc!.config.digest);
      const parsed = JSON.parse(new TextDecoder().decode(configBytes));
      expect(parsed.rootfs.diff_ids).toHaveLength(5);
      expect(parsed["x-opaque"]).toEqual({ kept: true });
      expect(parsed.rootfs.diff_ids.slice(1)).toEqual(["0,1", "0,2", "1,1", "1,2"].map((rc) => sha256(`allotment ${rc} amd64`)));
      expect((await c.req("HEAD", `/v2/f/blobs/${doc!.config.digest}`)).status).toBe(200);
      // Reads never create tags.
      expect(await (await c.req("GET", "/v2/f/tags/list")).json()).toEqual({ name: "f", tags: ["v1"] });
    });

    test("overlap and order of rectangles give one digest; + and %2B and -- agree", async () => {
      const c = createTestClient();
      await push(c, "o", "v1", grid(3, 3));
      const one = await get(c, "o", "v1--0.0.1.1");
      const variants = ["v1--0.0.0.1--1.0.1.1", "v1--1.0.1.1--0.0.0.1", "v1--0.0.1.1--0.0.0.0", "v1+0.0.1.1", "v1%2B0.0.1.1", "v1+0.1.1.1+0.0.1.0"];
      for (const v of variants) expect((await get(c, "o", v)).digest).toBe(one.digest);
      expect(new Set(cellsOf(one.doc!)).size).toBe(4);
    });

    if (format === "reference") {
      test("allotment layers carry their sniffed media type and real size", async () => {
        const c = createTestClient();
        await push(c, "s", "v1", grid(1, 2));
        const { doc } = await get(c, "s", "v1--0.0.0.1");
        const [, gz, plain] = doc!.layers;
        expect(gz!.mediaType).toBe(MediaType.ociLayerGzip);
        expect(plain!.mediaType).toBe(MediaType.ociLayer);
        expect(plain!.size).toBe("allotment 0,1 amd64".length);
        const blob = await c.req("GET", `/v2/s/blobs/${gz!.digest}`);
        expect((await blob.arrayBuffer()).byteLength).toBe(gz!.size);
      });
    }

    test("empty, malformed and non-2DFS cases are 404 MANIFEST_UNKNOWN with a detail saying which", async () => {
      const c = createTestClient();
      await push(c, "e", "v1", grid(2, 2));
      await c.pushManifest("e", "plain", await pushImageParts(c, "e"));
      const empty = await errorOf((await get(c, "e", "v1--5.5.6.6")).r);
      expect(empty).toMatchObject({ status: 404, code: "MANIFEST_UNKNOWN" });
      expect(String(empty.detail)).toContain("empty partition");
      const malformed = await errorOf((await get(c, "e", "v1--0.0.1")).r);
      expect(malformed.code).toBe("MANIFEST_UNKNOWN");
      expect(String(malformed.detail)).toContain("malformed partition suffix");
      const reversed = await errorOf((await get(c, "e", "v1--1.0.0.0")).r);
      expect(String(reversed.detail)).toContain("malformed partition suffix");
      const plain = await errorOf((await get(c, "e", "plain--0.0.0.0")).r);
      expect(String(plain.detail)).toContain("not a 2DFS image");
      const noBase = await errorOf((await get(c, "e", "v2--0.0.0.0")).r);
      expect(String(noBase.detail)).toContain('tag "v2"');
    });

    test("an index of two platforms keeps platform and annotations; children and configs fetchable by digest", async () => {
      const c = createTestClient();
      await pushTwoPlatformIndex(c, "m", "v1", format, grid(2, 2));
      const { r, doc } = await get(c, "m", "v1--1.0.1.1");
      expect(r.headers.get("content-type")).toBe(MediaType.ociIndex);
      expect(doc!.annotations).toEqual({ "org.example.index": "yes" });
      expect(doc!.manifests.map((m) => m.platform?.architecture)).toEqual(["amd64", "arm64"]);
      expect(doc!.manifests.map((m) => m.annotations?.["org.example.arch"])).toEqual(["amd64", "arm64"]);
      for (const [i, entry] of doc!.manifests.entries()) {
        const child = await get(c, "m", entry.digest);
        expect(child.r.status).toBe(200);
        expect(cellsOf(child.doc!)).toEqual(["1,0", "1,1"]);
        const config = await c.req("GET", `/v2/m/blobs/${child.doc!.config.digest}`);
        expect(((await config.json()) as { architecture: string }).architecture).toBe(["amd64", "arm64"][i]!);
      }
    });

    test("generated documents are fetchable by digest after a restart, and regenerated once evicted", async () => {
      const dir = await tempDir();
      const first = createTestClient({ driver: createFilesystemDriver(dir), derivedLimits: { maxDocs: 2 } });
      await pushTwoPlatformIndex(first, "p", "v1", format, grid(2, 2));
      const top = await get(first, "p", "v1--0.0.0.1", "HEAD");
      expect(top.r.status).toBe(200);
      const again = createTestClient({ driver: createFilesystemDriver(dir), derivedLimits: { maxDocs: 2 } });
      const index = await get(again, "p", top.digest);
      expect(index.r.status).toBe(200);
      for (const entry of index.doc!.manifests) {
        const child = await get(again, "p", entry.digest);
        expect(child.r.status).toBe(200);
        expect((await again.req("GET", `/v2/p/blobs/${child.doc!.config.digest}`)).status).toBe(200);
      }
      // Only 2 documents may stay on disk; the rest came back from their recipes.
      expect((await again.driver.list("_derived/docs")).length).toBeLessThanOrEqual(2);
      // Another repository cannot fetch them.
      expect((await get(again, "other", top.digest)).r.status).toBe(404);
    });

    test("read-only mode serves partitions without writing anything", async () => {
      const dir = await tempDir();
      const writer = createTestClient({ driver: createFilesystemDriver(dir) });
      await push(writer, "ro", "v1", grid(2, 2));
      const reader = createTestClient({ driver: createFilesystemDriver(dir), readOnly: true });
      const { r, digest, doc } = await get(reader, "ro", "v1--0.0.0.0");
      expect(r.status).toBe(200);
      expect((await get(reader, "ro", digest)).r.status).toBe(200);
      expect((await reader.req("GET", `/v2/ro/blobs/${doc!.config.digest}`)).status).toBe(200);
      expect(await reader.driver.list("_derived")).toEqual([]);
      const put = await reader.req("POST", "/v2/ro/blobs/uploads/");
      expect(await errorOf(put)).toMatchObject({ status: 405, code: "UNSUPPORTED" });
    });
  });
}

describe("one partition derived by several repositories", () => {
  // The same field pushed to two repositories gives the same partition bytes in both.
  const both = async (c: TestClient) => {
    await pushNative(c, "a/x", "v1", grid(2, 2));
    await pushNative(c, "b/x", "v1", grid(2, 2));
    const a = await get(c, "a/x", "v1--0.0.0.1");
    const b = await get(c, "b/x", "v1--0.0.0.1");
    expect(a.digest).toBe(b.digest);
    return a;
  };
  const fetchable = async (c: TestClient, name: string, digest: string, config: string) => {
    expect((await get(c, name, digest)).r.status).toBe(200);
    const blob = await c.req("GET", `/v2/${name}/blobs/${config}`);
    expect(blob.status).toBe(200);
    expect(sha256(new Uint8Array(await blob.arrayBuffer())) as string).toBe(config);
  };

  test("each repository that derived it answers by-digest GETs of the manifest and its config", async () => {
    const c = createTestClient();
    const { digest, doc } = await both(c);
    // Pull from a again (a client resolves the tag, then fetches by digest): still there.
    expect((await get(c, "a/x", "v1--0.0.0.1", "HEAD")).digest).toBe(digest);
    for (const name of ["a/x", "b/x", "a/x"]) await fetchable(c, name, digest, doc!.config.digest);
    // A repository that never derived it cannot fetch it.
    expect((await get(c, "c/x", digest)).r.status).toBe(404);
    expect((await c.req("GET", `/v2/c/x/blobs/${doc!.config.digest}`)).status).toBe(404);
  });

  test("also after a restart, with one record per document listing both repositories", async () => {
    const dir = await tempDir();
    const first = createTestClient({ driver: createFilesystemDriver(dir) });
    const { digest, doc } = await both(first);
    const again = createTestClient({ driver: createFilesystemDriver(dir) });
    for (const name of ["b/x", "a/x"]) await fetchable(again, name, digest, doc!.config.digest);
    expect((await get(again, "c/x", digest)).r.status).toBe(404);
    const record = await again.driver.read(`_derived/recipes/sha256-${digest.slice("sha256:".length)}`);
    const names = (JSON.parse(new TextDecoder().decode(record!)) as { recipes: { name: string }[] }).recipes.map((r) => r.name);
    expect(names.sort()).toEqual(["a/x", "b/x"]);
  });

  test("an evicted document is regenerated for each repository from its own recipe", async () => {
    const dir = await tempDir();
    const first = createTestClient({ driver: createFilesystemDriver(dir), derivedLimits: { maxDocs: 1 } });
    const { digest, doc } = await both(first);
    const again = createTestClient({ driver: createFilesystemDriver(dir), derivedLimits: { maxDocs: 1 } });
    for (const name of ["a/x", "b/x"]) await fetchable(again, name, digest, doc!.config.digest);
  });

  test("past maxNamesPerDoc the repository recorded longest ago is forgotten, and re-registers on its next partition request", async () => {
    const c = createTestClient({ derivedLimits: { maxNamesPerDoc: 1 } });
    const { digest } = await both(c);
    expect((await get(c, "a/x", digest)).r.status).toBe(404);
    expect((await get(c, "b/x", digest)).r.status).toBe(200);
    expect((await get(c, "a/x", "v1--0.0.0.1")).digest).toBe(digest);
    expect((await get(c, "a/x", digest)).r.status).toBe(200);
    expect((await get(c, "b/x", digest)).r.status).toBe(404);
  });

  test("a record written by an earlier version (one bare recipe) is still read", async () => {
    const dir = await tempDir();
    const first = createTestClient({ driver: createFilesystemDriver(dir) });
    await pushNative(first, "a/x", "v1", grid(2, 2));
    const { digest } = await get(first, "a/x", "v1--1.0.1.1");
    const path = `_derived/recipes/sha256-${digest.slice("sha256:".length)}`;
    const [recipe] = (JSON.parse(new TextDecoder().decode((await first.driver.read(path))!)) as { recipes: unknown[] }).recipes;
    await first.driver.write(path, new TextEncoder().encode(JSON.stringify(recipe)));
    const again = createTestClient({ driver: createFilesystemDriver(dir) });
    expect((await get(again, "a/x", digest)).r.status).toBe(200);
  });
});

test("an exact tag wins over a partition suffix", async () => {
  const c = createTestClient();
  await pushNative(c, "x", "v1", grid(2, 2));
  const real = await c.pushManifest("x", "v1--0.0.0.0", await pushImageParts(c, "x"));
  expect((await get(c, "x", "v1--0.0.0.0")).digest).toBe(real.digest);
});

// Latency is measured in bench/registry.ts (p50/p99 against a real server), not timed here:
// this checks the behaviour that makes it fast, that a repeated partition is served from cache.
test("a repeated partition of a 1,000-allotment field reads no blob again, only the tag links", async () => {
  const driver = createMemoryDriver();
  let reads = 0; // reads of anything but the small tag and revision links, which must be re-read (tags move)
  const count = (path: string) => {
    if (!path.endsWith("/link")) reads++;
  };
  const counting = { ...driver, read: (path: string) => (count(path), driver.read(path)), reader: (path: string, start?: number, end?: number) => (count(path), driver.reader(path, start, end)) };
  const c = createTestClient({ driver: counting });
  await pushNative(c, "big", "v1", grid(25, 40));
  const first = await get(c, "big", "v1--0.0.9.9");
  expect(cellsOf(first.doc!)).toHaveLength(100);
  const afterFirst = reads;
  for (let i = 0; i < 50; i++) {
    const again = await get(c, "big", "v1--0.0.9.9");
    expect(again.digest).toBe(first.digest);
  }
  expect(reads).toBe(afterFirst);
});

describe("the plain tag of a reference-format image", () => {
  test("is served as its whole field flattened: no field blob, every allotment a layer listed in the config; the stored manifest stays fetchable by digest", async () => {
    const c = createTestClient();
    const pushed = await pushReference(c, "ref", "v1", grid(2, 2));
    const { r, digest, doc } = await get(c, "ref", "v1");
    expect(r.status).toBe(200);
    expect(digest).not.toBe(pushed.digest);
    expect(doc!.layers.some((l) => l.mediaType === MediaType.tdfsField)).toBe(false);
    expect(cellsOf(doc!)).toEqual(["0,0", "0,1", "1,0", "1,1"]);
    // The same document as the partition of every cell, by tag and then by digest as Docker fetches it.
    expect((await get(c, "ref", "v1--0.0.1.1")).digest).toBe(digest);
    expect((await get(c, "ref", "v1", "HEAD")).digest).toBe(digest);
    expect((await get(c, "ref", digest)).r.status).toBe(200);
    const config = JSON.parse(await (await c.req("GET", `/v2/ref/blobs/${doc!.config.digest}`)).text());
    expect(config.rootfs.diff_ids).toHaveLength(doc!.layers.length);
    const stored = await get(c, "ref", pushed.digest);
    expect(stored.r.status).toBe(200);
    expect(stored.doc!.layers.some((l) => l.mediaType === MediaType.tdfsField)).toBe(true);
  });

  test("a native image's plain tag is served exactly as pushed", async () => {
    const c = createTestClient();
    const pushed = await pushNative(c, "nat", "v1", grid(1, 2));
    expect((await get(c, "nat", "v1")).digest).toBe(pushed.digest);
  });
});
