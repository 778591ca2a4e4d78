import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { DEFAULT_MIN_SAVING } from "../../src/archive/auto-compression.ts";
import { readdir, readFile, rm, symlink, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { type BuildEvent, buildImage } from "../../src/builder/build-image.ts";
import { loadImage } from "../../src/content/image-graph.ts";
import { createLayoutStore, type LayoutStore } from "../../src/content/layout-store.ts";
import { readNativeField } from "../../src/field/native-format.ts";
import { indexUncompressedTar } from "../../src/archive/tar-index.ts";
import { createWorkerPool, type WorkerPool } from "../../src/hash/pool.ts";
import { makeTempDir, seededBytes, writeTree } from "../support/temp.ts";

let pool: WorkerPool;
const cleanups: (() => Promise<void>)[] = [];

beforeAll(() => {
  pool = createWorkerPool({ workers: 2 });
});
afterAll(async () => {
  await pool.close();
  for (const c of cleanups) await c();
});

async function fixture(count: number, size = 4096): Promise<{ dir: string; store: LayoutStore }> {
  const { dir, cleanup } = await makeTempDir();
  cleanups.push(cleanup);
  const files: Record<string, Uint8Array | string> = {};
  const allotments = [];
  for (let i = 0; i < count; i++) {
    files[`ctx/src/split${i}.bin`] = seededBytes(size, i + 1);
    allotments.push({ src: `./src/split${i}.bin`, dst: `/model/split${i}.bin`, row: Math.floor(i / 10), col: i % 10 });
  }
  files["ctx/2dfs.json"] = JSON.stringify({ allotments });
  await writeTree(dir, files);
  const store = await createLayoutStore(join(dir, "store"));
  return { dir, store };
}

async function build(store: LayoutStore, dir: string, extra: Partial<Parameters<typeof buildImage>[0]> = {}) {
  const events: BuildEvent[] = [];
  const result = await buildImage({
    store,
    pool,
    descriptorPath: join(dir, "ctx", "2dfs.json"),
    name: "img:v1",
    base: { kind: "scratch", platform: { os: "linux", architecture: "amd64" } },
    compression: "none",
    format: "native",
    jobs: 2,
    noCache: false,
    onEvent: (e) => events.push(e),
    ...extra,
  });
  return { result, events: events.filter((e) => e.type === "allotment") as Extract<BuildEvent, { type: "allotment" }>[] };
}

describe("buildImage", () => {
  test("src is resolved against the descriptor's folder, not the working directory", async () => {
    const { dir, store } = await fixture(3);
    const { result } = await build(store, dir);
    expect(result.allotments.map((a) => `${a.row}.${a.col}`)).toEqual(["0.0", "0.1", "0.2"]);
    expect(process.cwd()).not.toBe(join(dir, "ctx"));
  });

  test("changing one source of 50 rebuilds exactly that allotment; the other digests stay", async () => {
    const { dir, store } = await fixture(50);
    const first = await build(store, dir);
    expect(first.events.filter((e) => e.status === "built")).toHaveLength(50);
    await writeFile(join(dir, "ctx", "src", "split17.bin"), seededBytes(4096, 999));
    const second = await build(store, dir);
    const rebuilt = second.events.filter((e) => e.status === "built");
    expect(rebuilt.map((e) => `${e.row}.${e.col}`)).toEqual(["1.7"]);
    const before = new Map(first.result.allotments.map((a) => [`${a.row}.${a.col}`, a.layer.digest]));
    for (const a of second.result.allotments) {
      if (a.row === 1 && a.col === 7) expect(a.layer.digest).not.toBe(before.get("1.7")!);
      else expect(a.layer.digest).toBe(before.get(`${a.row}.${a.col}`)!);
    }
  });

  test("a rebuild with nothing changed reads no source: the layer pool is never called", async () => {
    const { dir, store } = await fixture(10);
    const first = await build(store, dir);
    const refusing: WorkerPool = {
      writeLayer: () => Promise.reject(new Error("read a source on a no-change rebuild")),
      hashFile: () => Promise.reject(new Error("hashed a source on a no-change rebuild")),
      close: async () => {},
    };
    const second = await build(store, dir, { pool: refusing });
    expect(second.events.every((e) => e.status === "cached" && e.bytesRead === 0)).toBe(true);
    expect(second.result.descriptor.digest).toBe(first.result.descriptor.digest);
  });

  test("a cache entry whose blob vanished from the store is rebuilt", async () => {
    const { dir, store } = await fixture(2);
    const first = await build(store, dir);
    const { rm } = await import("node:fs/promises");
    await rm(store.blobPath(first.result.allotments[0]!.layer.digest));
    const second = await build(store, dir);
    expect(second.events.filter((e) => e.status === "built").map((e) => `${e.row}.${e.col}`)).toEqual(["0.0"]);
    expect(await store.hasBlob(first.result.allotments[0]!.layer.digest)).toBe(true);
  });

  test("--no-cache rebuilds everything and gives the same digests", async () => {
    const { dir, store } = await fixture(4);
    const first = await build(store, dir);
    const second = await build(store, dir, { noCache: true });
    expect(second.events.every((e) => e.status === "built")).toBe(true);
    expect(second.result.descriptor.digest).toBe(first.result.descriptor.digest);
  });

  test("the same inputs in two different folders give identical digests", async () => {
    const a = await fixture(5);
    const b = await fixture(5);
    expect(a.dir).not.toBe(b.dir);
    const ra = await build(a.store, a.dir);
    const rb = await build(b.store, b.dir);
    expect(rb.result.descriptor.digest).toBe(ra.result.descriptor.digest);
  });

  test("the image is named exactly as asked and lists every allotment as a layer with diff_ids", async () => {
    const { dir, store } = await fixture(12);
    const { result } = await build(store, dir, { name: "registry.local:5000/team/model:v2" });
    const named = await store.resolve("registry.local:5000/team/model:v2");
    expect(named?.digest).toBe(result.descriptor.digest);
    const image = await loadImage(store, named!);
    const [platform] = image.platforms;
    const field = readNativeField(platform!.manifest, platform!.config);
    expect(field.baseLayerCount).toBe(0);
    expect(field.allotments).toHaveLength(12);
    expect(platform!.config.rootfs.diff_ids).toHaveLength(12);
    expect(platform!.config.history).toHaveLength(12);
  });

  test("gzip and zstd layers decompress to the same tar (same diff_id) as the uncompressed one", async () => {
    const { dir, store } = await fixture(1, 64 * 1024);
    await writeFile(join(dir, "ctx", "src", "split0.bin"), "text ".repeat(20000));
    const none = await build(store, dir, { compression: "none" });
    const gzip = await build(store, dir, { compression: "gzip" });
    const zstd = await build(store, dir, { compression: "zstd" });
    const diff = (r: typeof none) => r.result.allotments[0]!.diffId;
    expect(diff(gzip)).toBe(diff(none));
    expect(diff(zstd)).toBe(diff(none));
    expect(gzip.result.allotments[0]!.layer.mediaType).toBe("application/vnd.oci.image.layer.v1.tar+gzip");
    expect(zstd.result.allotments[0]!.layer.mediaType).toBe("application/vnd.oci.image.layer.v1.tar+zstd");
    expect(gzip.result.allotments[0]!.layer.size).toBeLessThan(none.result.allotments[0]!.layer.size / 10);
  });

  test("auto compresses text and leaves noise uncompressed", async () => {
    const { dir, store } = await fixture(2, 256 * 1024);
    await writeFile(join(dir, "ctx", "src", "split1.bin"), "a line of text\n".repeat(20000));
    const { result } = await build(store, dir, { compression: "auto" });
    const [noise, text] = result.allotments;
    expect(noise!.layer.mediaType).toBe("application/vnd.oci.image.layer.v1.tar");
    expect(text!.layer.mediaType).not.toBe("application/vnd.oci.image.layer.v1.tar");
  });

  test("auto's compressed layer is byte for byte --compression gzip's, on zeros and on text", async () => {
    const { dir, store } = await fixture(2, 0);
    await writeFile(join(dir, "ctx", "src", "split0.bin"), new Uint8Array(8 << 20));
    await writeFile(join(dir, "ctx", "src", "split1.bin"), Array.from({ length: 100_000 }, (_, i) => `key${i % 977} = ${(i * 7919) % 100_003}\n`).join(""));
    const auto = await build(store, dir, { compression: "auto" });
    const gzip = await build(store, dir, { compression: "gzip" });
    expect(auto.result.allotments.map((a) => a.layer)).toEqual(gzip.result.allotments.map((a) => a.layer));
    expect(auto.result.allotments[0]!.layer.size).toBeLessThan(10_000); // 8 MiB of zeros: level 1 stored 79 KiB
  });

  test("auto reports its sample and decision in the allotment events, cached or built", async () => {
    const { dir, store } = await fixture(2, 256 * 1024);
    await writeFile(join(dir, "ctx", "src", "split1.bin"), "a line of text\n".repeat(20000));
    const first = await build(store, dir, { compression: "auto" });
    const [noise, text] = [...first.events].sort((a, b) => a.col - b.col);
    expect(noise).toMatchObject({ compression: "none", tarSize: noise!.size, auto: { sampleBytes: 65536, minSaving: DEFAULT_MIN_SAVING, compress: false, estimator: "zstd-1" } });
    expect(noise!.auto!.sampleRatio).toBeGreaterThan(0.99);
    expect(text).toMatchObject({ compression: "gzip", auto: { sampleBytes: 65536, compress: true, estimator: "zstd-1", level: 6 } });
    expect(text!.auto!.sampleRatio).toBeLessThan(0.05);
    expect(text!.tarSize).toBeGreaterThan(300_000);
    const again = await build(store, dir, { compression: "auto" });
    expect(again.events.map((e) => [e.status, e.compression, e.auto])).toEqual(
      [...again.events].map((e) => ["cached", e.col === 0 ? "none" : "gzip", first.events.find((f) => f.col === e.col)!.auto]),
    );
    // A cached layer reports its tar's size as the build that wrote it did.
    expect(again.events.map((e) => e.tarSize)).toEqual(again.events.map((e) => first.events.find((f) => f.col === e.col)!.tarSize));
    const gzip = await build(store, dir, { compression: "gzip" });
    expect(gzip.events.every((e) => e.auto === undefined && e.compression === "gzip")).toBe(true);
  });

  test("--min-saving decides, and a layer built under another threshold is not reused from the cache", async () => {
    const { dir, store } = await fixture(1, 0);
    // Half zeros, then noise with zeroed 4 KiB stripes: the sample predicts a saving of about 75%.
    const bytes = seededBytes(1 << 20, 7);
    bytes.fill(0, 0, 1 << 19);
    for (let i = 0; i < bytes.length; i += 8192) bytes.fill(0, i, i + 4096);
    await writeFile(join(dir, "ctx", "src", "split0.bin"), bytes);
    // Both thresholds are near enough to the sample's saving that deflate measures it, so the
    // two builds report the same ratio and only the threshold differs.
    const low = await build(store, dir, { compression: "auto", minSaving: 0.72 });
    expect(low.events[0]).toMatchObject({ status: "built", compression: "gzip", auto: { minSaving: 0.72, compress: true, estimator: "deflate-6" } });
    const high = await build(store, dir, { compression: "auto", minSaving: 0.8 });
    expect(high.events[0]).toMatchObject({ status: "built", compression: "none", auto: { minSaving: 0.8, compress: false, estimator: "deflate-6" } });
    expect(high.events[0]!.auto!.sampleRatio).toBe(low.events[0]!.auto!.sampleRatio);
    const lowAgain = await build(store, dir, { compression: "auto", minSaving: 0.72 });
    expect(lowAgain.events[0]).toMatchObject({ status: "cached", digest: low.events[0]!.digest });
  });

  test("reference format: one field blob as the last layer, base config untouched", async () => {
    const { dir, store } = await fixture(3);
    const { result } = await build(store, dir, { format: "reference" });
    const image = await loadImage(store, result.descriptor);
    const manifest = image.platforms[0]!.manifest;
    const last = manifest.layers.at(-1)!;
    expect(last.mediaType).toBe("application/vnd.oci.image.layer.v1.2dfs.field");
    const field = JSON.parse(await readFile(store.blobPath(last.digest), "utf8"));
    expect(field.rows_size).toBe(1);
    expect(field.rows[0].allotments.map((a: { digest: string }) => a.digest)).toEqual(
      result.allotments.map((a) => a.layer.digest.slice(7)),
    );
    expect(image.platforms[0]!.config.rootfs.diff_ids).toHaveLength(0);
  });

  test("a symlink in a directory source is a symlink entry (target verbatim) in the layer, and its target is part of the cache key", async () => {
    const { dir, store } = await fixture(0);
    await writeTree(dir, { "ctx/data/v1/w.bin": "one", "ctx/data/v2/w.bin": "two", "ctx/2dfs.json": JSON.stringify({ allotments: [{ src: "data", dst: "/m/", row: 0, col: 0 }] }) });
    await symlink("v1/w.bin", join(dir, "ctx/data/current"));
    const first = await build(store, dir);
    const entries = await indexUncompressedTar(store.blobPath(first.result.allotments[0]!.layer.digest));
    expect(entries.map((e) => [e.name, e.type, e.linkname ?? "", e.mode, e.size])).toEqual([
      ["m/", "directory", "", 0o755, 0],
      ["m/current", "symlink", "v1/w.bin", 0o777, 0],
      ["m/v1/", "directory", "", 0o755, 0],
      ["m/v1/w.bin", "file", "", 0o644, 3],
      ["m/v2/", "directory", "", 0o755, 0],
      ["m/v2/w.bin", "file", "", 0o644, 3],
    ]);
    // Same inputs elsewhere: same digest (the link's own inode and times do not leak into the layer).
    const other = await fixture(0);
    await writeTree(other.dir, { "ctx/data/v1/w.bin": "one", "ctx/data/v2/w.bin": "two", "ctx/2dfs.json": JSON.stringify({ allotments: [{ src: "data", dst: "/m/", row: 0, col: 0 }] }) });
    await symlink("v1/w.bin", join(other.dir, "ctx/data/current"));
    expect((await build(other.store, other.dir)).result.descriptor.digest).toBe(first.result.descriptor.digest);
    // Re-pointing the link rebuilds the allotment.
    await rm(join(dir, "ctx/data/current"));
    await symlink("v2/w.bin", join(dir, "ctx/data/current"));
    const second = await build(store, dir);
    expect(second.events.map((e) => e.status)).toEqual(["built"]);
    const again = await indexUncompressedTar(store.blobPath(second.result.allotments[0]!.layer.digest));
    expect(again.find((e) => e.name === "m/current")?.linkname).toBe("v2/w.bin");
  });

  test("a field whose manifest would pass 4 MiB is refused before anything is written", async () => {
    const { dir, store } = await fixture(0);
    const allotments = Array.from({ length: 20_000 }, (_, i) => ({ src: "e", dst: `/f/${i}`, row: Math.floor(i / 1000), col: i % 1000 }));
    await writeTree(dir, { "ctx/e": "", "ctx/2dfs.json": JSON.stringify({ allotments }) });
    const blobsBefore = await readdir(join(dir, "store", "blobs", "sha256"));
    const indexBefore = await readFile(join(dir, "store", "index.json"), "utf8");
    const failing: WorkerPool = {
      writeLayer: () => Promise.reject(new Error("a layer was written")),
      hashFile: () => Promise.reject(new Error("a file was hashed")),
      close: async () => {},
    };
    const attempt = build(store, dir, { pool: failing });
    await expect(attempt).rejects.toThrow(
      /manifest would be at least \d+ bytes for 20000 allotments .*over the 4 MiB \(4194304 byte\) limit.*about 18\d{3} allotments fit: split the field into several images or group files into fewer allotments/,
    );
    expect(await readdir(join(dir, "store", "blobs", "sha256"))).toEqual(blobsBefore);
    expect(await readFile(join(dir, "store", "index.json"), "utf8")).toBe(indexBefore);
  });

  test("a reference field blob over 16 MiB is refused the same way", async () => {
    const { dir, store } = await fixture(0);
    // Sparse cells make the reference blob large (it pads every row with placeholders) while the manifest stays small.
    const allotments = Array.from({ length: 10 }, (_, i) => ({ src: "e", dst: `/f/${i}`, row: i, col: 40_000 }));
    await writeTree(dir, { "ctx/e": "", "ctx/2dfs.json": JSON.stringify({ allotments }) });
    await expect(build(store, dir, { format: "reference" })).rejects.toThrow(/field blob would be at least \d+ bytes .*16 MiB.*about \d+ allotments fit/);
    expect(await readdir(join(dir, "store", "blobs", "sha256"))).toEqual([]);
  });
});
