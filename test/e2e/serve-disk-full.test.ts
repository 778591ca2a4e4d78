/**
 * `2dfs push` to a `2dfs serve` whose disk fills up (issue 11, medium item): the registry answers
 * 507 with the spec's envelope naming the disk, keeps no partial blob and gives the space back;
 * the client exits 1 at once with the registry's message instead of retrying. The registry's
 * storage is an 8 MiB tmpfs.
 */
import { afterAll, beforeAll, expect, test } from "bun:test";
import { mkdir, readdir, stat, truncate, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { run2dfs } from "../support/cli.ts";
import { seededBytes } from "../support/temp.ts";
import { describeIfE2E, makeTempDir, removeTempDir, run, runOk, startTdfsServer, type TdfsServer } from "./support/index.ts";

/** Every file under `dir` with its size (hidden temp files included). */
async function filesUnder(dir: string): Promise<{ path: string; size: number }[]> {
  const out: { path: string; size: number }[] = [];
  for (const entry of await readdir(dir, { recursive: true })) {
    const s = await stat(join(dir, entry));
    if (s.isFile()) out.push({ path: entry, size: s.size });
  }
  return out;
}

async function build(dir: string, name: string, bytes: number, seed: number): Promise<void> {
  const ctx = join(dir, name);
  await mkdir(ctx, { recursive: true });
  await writeFile(join(ctx, "blob.bin"), seededBytes(bytes, seed));
  await writeFile(join(ctx, "2dfs.json"), JSON.stringify({ allotments: [{ src: "blob.bin", dst: "/data/blob.bin", row: 0, col: 0 }] }));
  const built = await run2dfs(["build", "-t", `${name}:v1`, "-f", join(ctx, "2dfs.json"), "--store", join(dir, "store"), "--compression", "none", "--quiet"]);
  expect(built.stderr).toBe("");
  expect(built.code).toBe(0);
}

describeIfE2E("2dfs push to a registry whose disk is full (e2e)", [], () => {
  let dir: string;
  let mnt: string;
  let mounted = false;
  let server: TdfsServer | undefined;

  beforeAll(async () => {
    dir = await makeTempDir("2dfs-diskfull");
    mnt = join(dir, "mnt");
    await mkdir(mnt);
    await runOk("mount", ["-t", "tmpfs", "-o", "size=8m", "tmpfs", mnt]);
    mounted = true;
    server = await startTdfsServer([], join(mnt, "data"));
    // 20 MB: over the 16 MiB single-PUT limit, so it goes as a chunked upload (the path that said "kept failing at byte 0").
    await build(dir, "big", 20_000_000, 11);
    await build(dir, "small", 1_000_000, 12);
  }, 120_000);

  afterAll(async () => {
    await server?.stop().catch(() => {});
    if (mounted) await run("umount", [mnt]);
    if (dir) await removeTempDir(dir);
  });

  const accessLog = async () => (await Bun.file(server!.logFile).text()).split("\n").filter((l) => l.includes('"'));

  test("a chunk that fills the disk: 507 naming the disk, no blob, space given back, push exits 1 at once", async () => {
    const started = performance.now();
    const pushed = await run2dfs(["push", "big:v1", `${server!.host}/full/big:v1`, "--store", join(dir, "store"), "--jobs", "1", "--quiet"]);
    const seconds = (performance.now() - started) / 1000;
    expect(pushed.code).toBe(1);
    const lines = pushed.stderr.trim().split("\n");
    expect(lines[0]).toMatch(/^error: .*HTTP 507 \(BLOB_UPLOAD_INVALID: .*the registry's disk is full \(ENOSPC: no space left on device\)/);
    expect(pushed.stderr).not.toContain("kept failing");
    // No retry loop: the registry saw one PATCH, and no session was reopened.
    const log = await accessLog();
    expect(log.filter((l) => l.includes('"PATCH ')).map((l) => l.split(" ").at(-3))).toEqual(["507"]);
    expect(log.filter((l) => l.includes('"GET /v2/full/big/blobs/uploads/')).length).toBe(0);
    console.log(`push failed after ${seconds.toFixed(2)} s: ${lines[0]}`);
    // Nothing of the 20 MB is visible or kept: no blob over 1 MB, no upload session, no temp file.
    const files = await filesUnder(join(mnt, "data"));
    expect(files.filter((f) => f.size > 1_000_000)).toEqual([]);
    expect(files.filter((f) => f.path.includes("_uploads"))).toEqual([]);
    const manifest = await fetch(`http://${server!.host}/v2/full/big/manifests/v1`);
    expect(manifest.status).toBe(404);
  }, 60_000);

  test("a disk already full: the upload cannot even start, and push exits 1 with the registry's message", async () => {
    // Fill what is left of the tmpfs.
    const filler = join(mnt, "filler");
    await run("sh", ["-c", `dd if=/dev/zero of=${filler} bs=64k 2>/dev/null; true`]);
    const before = (await accessLog()).length;
    const pushed = await run2dfs(["push", "small:v1", `${server!.host}/full/small:v1`, "--store", join(dir, "store"), "--jobs", "1", "--quiet"]);
    expect(pushed.code).toBe(1);
    expect(pushed.stderr.trim().split("\n")[0]).toMatch(/^error: start upload to .*: HTTP 507 \(BLOB_UPLOAD_INVALID: .*disk is full \(ENOSPC/);
    const posts = (await accessLog()).slice(before).filter((l) => l.includes('"POST '));
    expect(posts.map((l) => l.split(" ").at(-3))).toEqual(["507"]);
    // No session and no temp file was left behind by the failed start.
    expect((await filesUnder(join(mnt, "data"))).filter((f) => f.path.includes("_uploads"))).toEqual([]);
  }, 60_000);

  test("a single-PUT upload that does not fit: 507 once, not retried", async () => {
    // Leave 256 KiB free: room to open the session, not for the 1 MB blob.
    const filler = join(mnt, "filler");
    await run("sh", ["-c", `dd if=/dev/zero of=${filler} bs=64k 2>/dev/null; true`]);
    await truncate(filler, (await stat(filler)).size - 256 * 1024);
    const before = (await accessLog()).length;
    const pushed = await run2dfs(["push", "small:v1", `${server!.host}/full/small:v1`, "--store", join(dir, "store"), "--jobs", "1", "--quiet"]);
    expect(pushed.code).toBe(1);
    expect(pushed.stderr.trim().split("\n")[0]).toMatch(/^error: upload sha256:[0-9a-f]{64} to .*: HTTP 507 \(BLOB_UPLOAD_INVALID: the registry's disk is full \(ENOSPC/);
    const log = (await accessLog()).slice(before);
    // The small config blob went in; the 1 MB layer was tried once.
    const layer = /upload sha256:([0-9a-f]{64})/.exec(pushed.stderr)![1]!;
    expect(log.filter((l) => l.includes('"PUT ') && l.includes(layer)).map((l) => l.split(" ").at(-3))).toEqual(["507"]);
    expect(log.filter((l) => l.includes('"POST ')).length).toBe(log.filter((l) => l.includes('"PUT ')).length);
    expect((await filesUnder(join(mnt, "data"))).filter((f) => f.size > 100_000 || f.path.includes("_uploads"))).toEqual([]);
  }, 60_000);
});
