/**
 * Stateless replicas: two `2dfs serve --storage s3://...` processes on one Ceph RGW bucket act as
 * one registry. skopeo pushes a field through A, docker pulls a partition through B and runs it;
 * an upload's chunks alternate between A and B, A is killed -9 mid-upload and B finishes it;
 * with the store gone, B answers 503 with a detail.
 */
import { afterAll, beforeAll, expect, test } from "bun:test";
import { join } from "node:path";
import { cliCommand, run2dfs } from "../support/cli.ts";
import { type CephS3, startCephS3 } from "../support/ceph-s3.ts";
import { seededBytes, writeTree } from "../support/temp.ts";
import { spawnDaemon, stopDaemon, waitForDaemon } from "./support/daemon.ts";
import { CELLS_2X2, type DockerdHandle, describeIfE2E, fieldContext, fieldFile, freePort, makeBusyboxBase, makeTempDir, removeTempDir, skopeo, startDockerd, must } from "./support/index.ts";
import { createHash } from "node:crypto";

const CELLS = CELLS_2X2;
const fileOf = fieldFile;
const sha256 = (b: Uint8Array) => `sha256:${createHash("sha256").update(b).digest("hex")}`;

describeIfE2E("2dfs serve replicas on one S3 bucket (Ceph RGW, e2e)", ["docker", "dockerd", "skopeo", "busybox"], () => {
  let dir: string;
  let ceph: CephS3;
  let dockerd: DockerdHandle;
  const servers: { host: string; daemon: ReturnType<typeof spawnDaemon> }[] = [];
  let storage: string;

  const startServe = async (extra: string[] = []): Promise<{ host: string; daemon: ReturnType<typeof spawnDaemon> }> => {
    const port = await freePort();
    const [cmd, ...pre] = cliCommand();
    const daemon = spawnDaemon("2dfs serve", cmd!, [...pre, "serve", "--addr", `127.0.0.1:${port}`, "--storage", storage, ...extra], join(dir, `serve-${port}.log`), ceph.env);
    const host = `127.0.0.1:${port}`;
    await waitForDaemon(daemon, async () => (await fetch(`http://${host}/v2/`)).status < 500, 20_000);
    servers.push({ host, daemon });
    return { host, daemon };
  };
  let a: { host: string; daemon: ReturnType<typeof spawnDaemon> };
  let b: { host: string; daemon: ReturnType<typeof spawnDaemon> };

  beforeAll(async () => {
    dir = await makeTempDir("2dfs-e2e-s3-");
    [ceph, dockerd] = await Promise.all([startCephS3(), startDockerd()]);
    storage = `s3://${ceph.env.S3_BUCKET}/replicas?endpoint=${ceph.env.S3_ENDPOINT}`;
    [a, b] = await Promise.all([startServe(), startServe()]);
    const base = await makeBusyboxBase(join(dir, "base"));
    await writeTree(dir, fieldContext(CELLS, (r, c) => `r${r}-c${c}\n`));
    const store = join(dir, "store");
    await must("2dfs build", run2dfs(["build", "-t", "model:v1", "-f", join(dir, "ctx", "2dfs.json"), "--base", `oci:${base.layoutDir}:${base.tag}`, "--quiet", "--store", store]));
    await must("skopeo push through A", skopeo(["copy", "--dest-tls-verify=false", `oci:${store}:model:v1`, `docker://${a.host}/s3/model:v1`]));
    await must("2dfs push through B", run2dfs(["push", "model:v1", `${b.host}/s3/model:v2`, "--quiet", "--store", store]));
  }, 240_000);

  afterAll(async () => {
    await Promise.allSettled(servers.map((s) => stopDaemon(s.daemon, 5_000)));
    await Promise.allSettled([dockerd?.stop(), ceph?.stop()]);
    if (dir) await removeTempDir(dir);
  }, 120_000);

  test("tags pushed through A and B are listed the same on both", async () => {
    const la = await (await fetch(`http://${a.host}/v2/s3/model/tags/list`)).json();
    const lb = await (await fetch(`http://${b.host}/v2/s3/model/tags/list`)).json();
    expect(la).toEqual({ name: "s3/model", tags: ["v1", "v2"] });
    expect(lb).toEqual(la);
  });

  test("docker pulls a partition pushed through A from B, and runs it", async () => {
    const ref = `${b.host}/s3/model:v1--0.1.1.1`;
    await must("docker pull", dockerd.docker(["pull", ref]));
    const out = await must("docker run", dockerd.docker(["run", "--rm", "--network", "none", ref, "sh", "-c", "find /field -type f | sort; cat /field/r1-c1.txt"]));
    expect(out.trim().split("\n")).toEqual([fileOf(0, 1), fileOf(1, 1), "r1-c1"]);
  });

  test("a third instance with --redirect sends blob GETs to the store: docker pulls a partition through it and runs it", async () => {
    const c = await startServe(["--redirect"]);
    const ref = `${c.host}/s3/model:v2--1.0.1.1`;
    await must("docker pull", dockerd.docker(["pull", ref]));
    const out = await must("docker run", dockerd.docker(["run", "--rm", "--network", "none", ref, "sh", "-c", "find /field -type f | sort"]));
    expect(out.trim().split("\n")).toEqual([fileOf(1, 0), fileOf(1, 1)]);
    // The blob GETs were answered 307, to the object store's endpoint, not with the bytes.
    const manifest = (await (await fetch(`http://${c.host}/v2/s3/model/manifests/v2--1.0.1.1`, { headers: { Accept: "application/vnd.oci.image.manifest.v1+json" } })).json()) as { layers: { digest: string }[] };
    const layer = manifest.layers.at(-1)!;
    const res = await fetch(`http://${c.host}/v2/s3/model/blobs/${layer.digest}`, { redirect: "manual" });
    expect(res.status).toBe(307);
    expect(res.headers.get("location")!.startsWith(ceph.env.S3_ENDPOINT!)).toBe(true);
    const directRes = await fetch(res.headers.get("location")!, { headers: { Range: "bytes=0-9" } });
    expect(directRes.status).toBe(206);
    const direct = new Uint8Array(await directRes.arrayBuffer());
    expect(direct.byteLength).toBe(10);
    // The store's bytes are the blob's: the first ten as B serves them itself.
    const local = new Uint8Array(await (await fetch(`http://${b.host}/v2/s3/model/blobs/${layer.digest}`)).arrayBuffer());
    expect([...direct]).toEqual([...local.subarray(0, 10)]);
  });

  test("--redirect without object storage is refused at start with one line", async () => {
    const r = await run2dfs(["serve", "--addr", `127.0.0.1:${await freePort()}`, "--data", join(dir, "fs-data"), "--redirect"]);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain("error: --redirect needs object storage that clients can fetch from directly: --storage s3://...");
  });

  test("chunks alternate A/B; A is killed -9 mid-upload; B finishes with the right digest", async () => {
    const blob = seededBytes(6_000_000, 3);
    const digest = sha256(blob);
    const post = await fetch(`http://${a.host}/v2/s3/up/blobs/uploads/`, { method: "POST" });
    expect(post.status).toBe(202);
    const path = new URL(post.headers.get("location")!, `http://${a.host}`).pathname;
    const patch = (host: string, from: number, to: number) =>
      fetch(`http://${host}${path}`, { method: "PATCH", body: blob.subarray(from, to), headers: { "Content-Range": `${from}-${to - 1}`, "Content-Type": "application/octet-stream" } });
    expect((await patch(a.host, 0, 1_500_000)).status).toBe(202);
    expect((await patch(b.host, 1_500_000, 3_000_000)).status).toBe(202);
    expect((await patch(a.host, 3_000_000, 4_500_000)).status).toBe(202);
    // A dies while a chunk is on its way: that chunk is never acknowledged.
    const dying = patch(a.host, 4_500_000, 6_000_000).catch(() => undefined);
    a.daemon.proc.kill("SIGKILL");
    await a.daemon.proc.exited;
    await dying;
    const status = await fetch(`http://${b.host}${path}`);
    expect(status.status).toBe(204);
    const acknowledged = Number(status.headers.get("range")!.split("-")[1]) + 1;
    expect([4_500_000, 6_000_000]).toContain(acknowledged);
    if (acknowledged < 6_000_000) expect((await patch(b.host, acknowledged, 6_000_000)).status).toBe(202);
    const put = await fetch(`http://${b.host}${path}?digest=${digest}`, { method: "PUT" });
    expect(put.status).toBe(201);
    const got = new Uint8Array(await (await fetch(`http://${b.host}/v2/s3/up/blobs/${digest}`)).arrayBuffer());
    expect(got.length).toBe(blob.length);
    expect(sha256(got)).toBe(digest);
  });

  test("with the store gone, B answers 503 with what failed, and refuses to start again", async () => {
    await ceph.stop();
    const r = await fetch(`http://${b.host}/v2/s3/model/tags/list`);
    expect(r.status).toBe(503);
    const body = (await r.json()) as { errors: { code: string; detail: string }[] };
    expect(body.errors[0]!.detail).toMatch(/^object storage http:\/\/127\.0\.0\.1:\d+\/tdfs failed to list/);
    const again = await run2dfs(["serve", "--addr", "127.0.0.1:0", "--storage", storage], { env: ceph.env });
    expect(again.code).toBe(1);
    expect(again.stderr.trim()).toMatch(/^error: cannot use s3:\/\/tdfs\/replicas: cannot reach object storage at http:\/\/127\.0\.0\.1:\d+ \(/);
  });
});
