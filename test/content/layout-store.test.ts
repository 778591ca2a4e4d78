import { afterAll, describe, expect, test } from "bun:test";
import { createHash } from "node:crypto";
import { readdir, readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { BlobIntegrityError, createLayoutStore, replaceFileSync } from "../../src/content/layout-store.ts";
import { withFileLock } from "../../src/content/file-lock.ts";
import type { Digest } from "../../src/oci/digest.ts";
import { makeTempDir } from "../support/temp.ts";

const cleanups: (() => Promise<void>)[] = [];
afterAll(async () => {
  for (const c of cleanups) await c();
});
async function freshStore() {
  const { dir, cleanup } = await makeTempDir();
  cleanups.push(cleanup);
  return createLayoutStore(join(dir, "store"));
}
const sha = (b: Uint8Array | string): Digest => `sha256:${createHash("sha256").update(b).digest("hex")}`;

describe("layout store", () => {
  test("is a valid OCI layout from the start", async () => {
    const store = await freshStore();
    expect(JSON.parse(await readFile(join(store.root, "oci-layout"), "utf8"))).toEqual({ imageLayoutVersion: "1.0.0" });
    expect(JSON.parse(await readFile(join(store.root, "index.json"), "utf8")).manifests).toEqual([]);
  });

  test("putBlob stores content under its digest and readBlob verifies it", async () => {
    const store = await freshStore();
    const { digest, size } = await store.putBlob(new TextEncoder().encode("hello"));
    expect(digest).toBe(sha("hello"));
    expect(size).toBe(5);
    expect(new TextDecoder().decode(await store.readBlob(digest))).toBe("hello");
    await writeFile(store.blobPath(digest), "hellO");
    await expect(store.readBlob(digest)).rejects.toBeInstanceOf(BlobIntegrityError);
  });

  test("ingestFile copies a file in under its digest", async () => {
    const store = await freshStore();
    const source = join(store.root, "..", "ingest-ok");
    await writeFile(source, "abcdef");
    expect(await store.ingestFile(source, { digest: sha("abcdef"), size: 6 })).toEqual({ digest: sha("abcdef"), size: 6 });
    expect(new TextDecoder().decode(await store.readBlob(sha("abcdef")))).toBe("abcdef");
    expect(await readdir(join(store.stateDir, "tmp"))).toEqual([]);
  });

  test("ingestFile with a wrong digest stores nothing and leaves no temp file", async () => {
    const store = await freshStore();
    const wrong = sha("something else");
    const source = join(store.root, "..", "ingest-wrong");
    await writeFile(source, "abcdef");
    await expect(store.ingestFile(source, { digest: wrong })).rejects.toThrow(/digest mismatch/);
    expect(await store.hasBlob(wrong)).toBe(false);
    expect(await store.hasBlob(sha("abcdef"))).toBe(false);
    expect(await readdir(join(store.stateDir, "tmp"))).toEqual([]);
  });

  test("replaceFileSync replaces a file whole, and a failed replace leaves no temp file", async () => {
    const store = await freshStore();
    const tmp = join(store.stateDir, "tmp");
    const path = join(store.stateDir, "entry.json");
    replaceFileSync(path, "one", tmp);
    replaceFileSync(path, "two", tmp);
    expect(await readFile(path, "utf8")).toBe("two");
    expect(() => replaceFileSync(join(store.stateDir, "no-such-folder", "entry.json"), "three", tmp)).toThrow(/ENOENT|no such file/);
    expect(await readdir(tmp)).toEqual([]);
  });

  test("ingestFile refuses a file of another size than announced", async () => {
    const store = await freshStore();
    const source = join(store.root, "..", "ingest-size");
    await writeFile(source, "abcdef");
    await expect(store.ingestFile(source, { digest: sha("abcdef"), size: 3 })).rejects.toThrow(/is 6 bytes, expected 3/);
    expect(await store.hasBlob(sha("abcdef"))).toBe(false);
    expect(await readdir(join(store.stateDir, "tmp"))).toEqual([]);
  });

  test("concurrent setImage calls lose no name", async () => {
    const store = await freshStore();
    const { digest, size } = await store.putBlob(new TextEncoder().encode("{}"));
    await Promise.all(Array.from({ length: 30 }, (_, i) => store.setImage(`img:${i}`, { mediaType: "application/vnd.oci.image.manifest.v1+json", digest, size })));
    const names = (await store.images()).map((i) => i.name).sort();
    expect(names).toHaveLength(30);
    expect(new Set(names).size).toBe(30);
  });

  test("two processes naming images at once lose no name", async () => {
    const store = await freshStore();
    const script = `
      const { createLayoutStore } = await import(${JSON.stringify(join(import.meta.dir, "../../src/content/layout-store.ts"))});
      const store = await createLayoutStore(process.argv[2]);
      const { digest, size } = await store.putBlob(new TextEncoder().encode(process.argv[3]));
      for (let i = 0; i < 20; i++) await store.setImage(process.argv[3] + ":" + i, { mediaType: "application/vnd.oci.image.manifest.v1+json", digest, size });
    `;
    const file = join(store.root, "..", "namer.ts");
    await writeFile(file, script);
    const procs = ["a", "b"].map((tag) => Bun.spawn([process.execPath, file, store.root, tag], { stderr: "inherit" }));
    expect(await Promise.all(procs.map((p) => p.exited))).toEqual([0, 0]);
    expect((await store.images()).length).toBe(40);
  });

  test("opening a store keeps its index; processes creating one store at once all succeed", async () => {
    const { dir, cleanup } = await makeTempDir();
    cleanups.push(cleanup);
    const root = join(dir, "store");
    const script = `await (await import(${JSON.stringify(join(import.meta.dir, "../../src/content/layout-store.ts"))})).createLayoutStore(process.argv[2]);`;
    const file = join(dir, "opener.ts");
    await writeFile(file, script);
    const procs = [1, 2, 3, 4].map(() => Bun.spawn([process.execPath, file, root], { stderr: "inherit" }));
    expect(await Promise.all(procs.map((p) => p.exited))).toEqual([0, 0, 0, 0]);
    const store = await createLayoutStore(root);
    const { digest, size } = await store.putBlob(new TextEncoder().encode("kept"));
    await store.setImage("kept:v1", { mediaType: "application/vnd.oci.image.manifest.v1+json", digest, size });
    const reopened = await createLayoutStore(root);
    expect((await reopened.images()).map((i) => i.name)).toEqual(["kept:v1"]);
    expect(await readdir(join(root, ".2dfs", "tmp"))).toEqual([]);
  });

  test("a lock left by a dead process is broken; a live holder is waited for", async () => {
    const store = await freshStore();
    const lock = join(store.stateDir, "test.lock");
    await writeFile(lock, "999999"); // no such process
    expect(await withFileLock(lock, async () => "got it", 2000)).toBe("got it");
    await writeFile(lock, String(process.pid)); // held by a live process (us)
    await expect(withFileLock(lock, async () => "never", 100)).rejects.toThrow(/timed out waiting for the lock/);
  });
});
