import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { readdir } from "node:fs/promises";
import { join } from "node:path";
import { createLayoutStore } from "../../src/content/layout-store.ts";
import { run2dfs } from "../support/cli.ts";
import { makeTempDir, seededBytes, writeTree } from "../support/temp.ts";

let dir: string;
let cleanup: () => Promise<void>;
const store = () => join(dir, "store");
const blobs = async () => new Set(await readdir(join(store(), "blobs", "sha256")));
const ok = async (args: string[]) => {
  const out = await run2dfs([...args, "--store", store()]);
  if (out.code !== 0) throw new Error(out.stderr);
  return out.stdout;
};

beforeAll(async () => {
  ({ dir, cleanup } = await makeTempDir());
  await writeTree(dir, {
    "a.bin": seededBytes(5000, 1),
    "b.bin": seededBytes(6000, 2),
    "c.bin": seededBytes(7000, 3),
    "one.json": JSON.stringify({ allotments: [{ src: "a.bin", dst: "/a", row: 0, col: 0 }, { src: "b.bin", dst: "/b", row: 0, col: 1 }] }),
    "two.json": JSON.stringify({ allotments: [{ src: "c.bin", dst: "/c", row: 1, col: 2 }] }),
  });
  await ok(["build", "-t", "one:v1", "-f", join(dir, "one.json"), "--quiet", "--compression", "none"]);
  await ok(["build", "-t", "two:v1", "-f", join(dir, "two.json"), "--quiet", "--compression", "none", "--format", "reference"]);
});
afterAll(() => cleanup());

describe("2dfs image", () => {
  test("ls lists both images with their allotment counts", async () => {
    const rows = JSON.parse(await ok(["image", "ls", "--json"]));
    expect(rows.map((r: { name: string }) => r.name).sort()).toEqual(["one:v1", "two:v1"]);
    expect(rows.find((r: { name: string }) => r.name === "one:v1").allotments).toBe(2);
    expect(rows.find((r: { name: string }) => r.name === "two:v1").allotments).toBe(1); // reference format: read from the field blob
  });

  test("ls sizes count the allotments of a reference image (no manifest lists them), not its field blob", async () => {
    const rows = JSON.parse(await ok(["image", "ls", "--json"]));
    const two = rows.find((r: { name: string }) => r.name === "two:v1");
    // One uncompressed allotment holding 7,000 bytes: its tar is larger; a field blob alone is a few hundred bytes.
    expect(two.size).toBeGreaterThan(7000);
    expect(two.size).toBeLessThan(7000 + 4096);
    const one = rows.find((r: { name: string }) => r.name === "one:v1");
    expect(one.size).toBeGreaterThan(11000);
  });

  test("inspect draws the field as a grid with holes, for the native and the reference format", async () => {
    const one = await ok(["image", "inspect", "one:v1"]);
    expect(one).toContain("format native 2DFS");
    expect(one).toMatch(/col 0\s+col 1/);
    const two = await ok(["image", "inspect", "two:v1"]);
    expect(two).toContain("format reference");
    expect(two).toMatch(/col 0\s+col 1\s+col 2/);
    expect(two).toContain("·"); // holes of the padded grid
    expect(two).toContain("c"); // the file name of (1,2)
  });

  test("inspect of an unknown name fails with exit 1", async () => {
    const out = await run2dfs(["image", "inspect", "nope:v1", "--store", store()]);
    expect(out.code).toBe(1);
    expect(out.stderr).toMatch(/no image named "nope:v1"/);
  });

  test("prune keeps every blob an image or a reference field references, and removes the rest", async () => {
    const before = await blobs();
    expect(await ok(["image", "prune", "--grace", "0"])).toMatch(/removed 0 blobs/);
    expect(await blobs()).toEqual(before); // the reference field's allotment, listed only in the field blob, survives
    await ok(["image", "rm", "one:v1"]);
    expect(await ok(["image", "prune", "--grace", "0", "--dry-run"])).toMatch(/would remove [1-9]/);
    expect(await blobs()).toEqual(before);
    await ok(["image", "prune", "--grace", "0"]);
    const after = await blobs();
    expect(after.size).toBeLessThan(before.size);
    const inspect = JSON.parse(await ok(["image", "inspect", "two:v1", "--json"]));
    for (const cell of inspect.platforms[0].field) expect(after.has(cell.digest.slice(7))).toBe(true);
  });

  test("prune drops what auto decided for an image that is gone, and keeps it for one that stays", async () => {
    const own = join(dir, "store-auto");
    const records = async () => (await readdir(join(own, ".2dfs", "cache", "auto")).catch(() => [])).sort();
    const run = async (args: string[]) => expect((await run2dfs([...args, "--store", own])).code).toBe(0);
    await run(["build", "-t", "kept:v1", "-f", join(dir, "one.json"), "--quiet"]);
    await run(["build", "-t", "gone:v1", "-f", join(dir, "two.json"), "--quiet"]);
    const both = await records();
    expect(both).toHaveLength(2);
    await run(["image", "rm", "gone:v1"]);
    await run(["image", "prune", "--grace", "0"]);
    // One record left, and it is kept:v1's: its inspect still shows the decision for every cell.
    expect(await records()).toHaveLength(1);
    expect(both).toContain((await records())[0]!);
    const kept = JSON.parse((await run2dfs(["image", "inspect", "kept:v1", "--json", "--store", own])).stdout);
    expect(kept.platforms[0].field).toHaveLength(2);
    expect(kept.platforms[0].field.every((c: { auto?: unknown }) => c.auto !== undefined)).toBe(true);
  });

  test("prune leaves recent blobs alone by default (a build may be about to use them)", async () => {
    await ok(["build", "-t", "one:v1", "-f", join(dir, "one.json"), "--quiet", "--compression", "none"]);
    await ok(["image", "rm", "one:v1"]);
    expect(await ok(["image", "prune"])).toMatch(/removed 0 blobs/);
  });

  test("ls skips an unreadable image, names it on stderr, lists the rest and exits 0", async () => {
    const own = join(dir, "store-with-a-bad-image");
    const built = await run2dfs(["build", "-t", "good:v1", "-f", join(dir, "one.json"), "--quiet", "--compression", "none", "--store", own]);
    expect(built.code).toBe(0);
    // A manifest over the 4 MiB read limit (what a too-large field used to produce), and one that is not JSON.
    const layout = await createLayoutStore(own);
    const huge = new TextEncoder().encode(JSON.stringify({ schemaVersion: 2, mediaType: "application/vnd.oci.image.manifest.v1+json", pad: "x".repeat(5 * 1024 * 1024) }));
    const oversized = await layout.putBlob(huge);
    await layout.setImage("huge:v1", { mediaType: "application/vnd.oci.image.manifest.v1+json", ...oversized });
    const junk = await layout.putBlob(new TextEncoder().encode("not json"));
    await layout.setImage("junk:v1", { mediaType: "application/vnd.oci.image.manifest.v1+json", ...junk });

    const table = await run2dfs(["image", "ls", "--store", own]);
    expect(table.code).toBe(0);
    expect(table.stdout).toMatch(/^good:v1 /m);
    expect(table.stdout).not.toContain("huge:v1");
    expect(table.stderr).toMatch(new RegExp(`^warning: skipped huge:v1 \\(${oversized.digest}\\): .*over the 4194304 byte limit`, "m"));
    expect(table.stderr).toMatch(/^warning: skipped junk:v1 \(sha256:[0-9a-f]{64}\): /m);
    const json = await run2dfs(["image", "ls", "--json", "--store", own]);
    expect(json.code).toBe(0);
    expect(JSON.parse(json.stdout).map((r: { name: string }) => r.name)).toEqual(["good:v1"]);
  });
});

