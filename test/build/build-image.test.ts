import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { type BuildEvent, buildImage } from "../../src/build/build-image.ts";
import { loadImage } from "../../src/content/image-graph.ts";
import { createLayoutStore, type LayoutStore } from "../../src/content/layout-store.ts";
import { readNativeField } from "../../src/field/native-format.ts";
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
    files[`src/split${i}.bin`] = seededBytes(size, i + 1);
    allotments.push({ src: `./src/split${i}.bin`, dst: `/model/split${i}.bin`, row: Math.floor(i / 10), col: i % 10 });
  }
  files["ctx/2dfs.json"] = JSON.stringify({ allotments: allotments.map((a) => ({ ...a, src: `.${a.src}` })) });
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
    await writeFile(join(dir, "src", "split17.bin"), seededBytes(4096, 999));
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
    await writeFile(join(dir, "src", "split0.bin"), "text ".repeat(20000));
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
    await writeFile(join(dir, "src", "split1.bin"), "a line of text\n".repeat(20000));
    const { result } = await build(store, dir, { compression: "auto" });
    const [noise, text] = result.allotments;
    expect(noise!.layer.mediaType).toBe("application/vnd.oci.image.layer.v1.tar");
    expect(text!.layer.mediaType).not.toBe("application/vnd.oci.image.layer.v1.tar");
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
});
