/**
 * `2dfs serve --upstream` as an edge cache in front of distribution 2.8 (which knows nothing of
 * fields): Docker pulls partitions through the edge, the origin's access log shows each needed
 * blob fetched once, the edge keeps serving with the origin gone, tiers chain, concurrent cold
 * pulls share fetches, and a corrupted origin blob is neither served whole nor kept.
 */
import { afterAll, beforeAll, expect, test } from "bun:test";
import { existsSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { run2dfs } from "../support/cli.ts";
import { seededBytes, writeTree } from "../support/temp.ts";
import {
  type DistributionHandle,
  type DockerdHandle,
  describeIfE2E,
  must,
  makeTempDir,
  removeTempDir,
  skopeo,
  startDistribution,
  startDockerd,
  startTdfsServer,
  type TdfsServer,
} from "./support/index.ts";

const ROWS = 3;
const COLS = 3;
const REPO = "e2e/field";
const P1 = "v1--0.0.1.1";
const P2 = "v1--1.1.2.2"; // overlaps P1 at (1,1); (0,2) and (2,0) are in neither

/**
 * Blob digest -> number of successful GETs in a distribution access log. The line is written
 * once the response is done, which can be just after the client has its last byte: wait a moment.
 */
async function originBlobGets(logFile: string): Promise<Map<string, number>> {
  await Bun.sleep(300);
  const counts = new Map<string, number>();
  for (const m of readFileSync(logFile, "utf8").matchAll(/"GET \/v2\/[^ ]+\/blobs\/(sha256:[0-9a-f]{64}) HTTP\/1\.1" 200 /g)) {
    counts.set(m[1]!, (counts.get(m[1]!) ?? 0) + 1);
  }
  return counts;
}

describeIfE2E("serve --upstream: edge cache in front of distribution (e2e)", ["docker", "dockerd", "docker-registry", "skopeo"], () => {
  let dir: string;
  let dockerd: DockerdHandle;
  const cleanups: (() => Promise<void>)[] = [];
  const store = () => join(dir, "store");
  let layersOf: (host: string, ref: string) => Promise<string[]>;

  const origin = async () => {
    const o = await startDistribution({ logLevel: "info" });
    cleanups.push(o.stop);
    await must("2dfs push", run2dfs(["push", "field:v1", `${o.url}/${REPO}:v1`, "--store", store(), "--quiet"]));
    return o;
  };
  const serve = async (args: string[]) => {
    const s = await startTdfsServer(["--no-ui", ...args]);
    cleanups.push(s.stop);
    return s;
  };
  const metrics = async (s: TdfsServer) => (await fetch(`http://${s.host}/metrics`)).text();
  const metric = (text: string, name: string) => Number(new RegExp(`^${name.replace(/[{}"]/g, (c) => `\\${c}`)}[^\\n]* (\\d+)$`, "m").exec(text)?.[1]);

  beforeAll(async () => {
    dir = await makeTempDir("2dfs-e2e-edge-");
    dockerd = await startDockerd();
    const files: Record<string, Uint8Array | string> = {};
    const allotments: object[] = [];
    for (let r = 0; r < ROWS; r++) {
      for (let c = 0; c < COLS; c++) {
        files[`ctx/c${r}${c}.bin`] = seededBytes(256 << 10, 10 + r * COLS + c);
        allotments.push({ src: `c${r}${c}.bin`, dst: `/field/c${r}${c}.bin`, row: r, col: c });
      }
    }
    files["ctx/2dfs.json"] = JSON.stringify({ allotments });
    await writeTree(dir, files);
    await must("2dfs build", run2dfs(["build", "-t", "field:v1", "-f", join(dir, "ctx", "2dfs.json"), "--compression", "none", "--store", store(), "--quiet"]));
    // The layers of a partition, from any registry that serves it (manifest media type: OCI image).
    layersOf = async (host, ref) => {
      const res = await fetch(`http://${host}/v2/${REPO}/manifests/${ref}`, { headers: { Accept: "application/vnd.oci.image.manifest.v1+json" } });
      expect(res.status).toBe(200);
      return (JSON.parse(await res.text()).layers as { digest: string }[]).map((l) => l.digest);
    };
  });
  afterAll(async () => {
    await Promise.allSettled([...cleanups.map((c) => c()), dockerd?.stop()]);
    await removeTempDir(dir);
  });

  const pullAndRemove = async (refs: string[]) => {
    for (const ref of refs) await must(`docker pull ${ref}`, dockerd.docker(["pull", ref]));
    await must("docker rmi", dockerd.docker(["rmi", ...refs]));
  };

  test("docker pulls two overlapping partitions through the edge: each needed blob leaves the origin once; with the origin stopped both pull again", async () => {
    const o = await origin();
    const edge = await serve(["--upstream", `http://${o.url}`, "--tag-ttl", "0"]);
    const refs = [P1, P2].map((p) => `${edge.host}/${REPO}:${p}`);
    await pullAndRemove(refs);
    const needed = new Set([...(await layersOf(edge.host, P1)), ...(await layersOf(edge.host, P2))]);
    const gets = await originBlobGets(o.logFile);
    const originConfig = JSON.parse(await (await fetch(`http://${o.url}/v2/${REPO}/manifests/v1`, { headers: { Accept: "application/vnd.oci.image.manifest.v1+json" } })).text()).config.digest;
    // Exactly the selected allotments and the image config crossed the link, each once.
    expect(Object.fromEntries(gets)).toEqual(Object.fromEntries([...needed, originConfig].map((d) => [d, 1])));
    expect(needed.size).toBe(7);
    // No partition request reached the origin. (Matched on manifest paths only: upload URLs in
    // distribution's log carry base64 state where "--" occurs by chance.)
    expect(readFileSync(o.logFile, "utf8").match(/\/manifests\/[^\s"?]*--/g)).toBeNull();
    await o.stop();
    await pullAndRemove(refs);
    expect(readFileSync(edge.logFile, "utf8")).toMatch(/serving cached tag e2e\/field:v1 \(stale\): upstream http:\/\/127\.0\.0\.1:\d+ unreachable/);
    const m = await metrics(edge);
    expect(metric(m, 'tdfs_cache_misses_total{tier="edge",kind="blob"}')).toBe(8);
    expect(metric(m, 'tdfs_stale_tags_served_total{tier="edge"}')).toBeGreaterThan(0);
  });

  test("three tiers: two edges share a regional cache; the origin serves each blob once", async () => {
    const o = await origin();
    const regional = await serve(["--upstream", `http://${o.url}`, "--tier", "regional"]);
    const [a, b] = await Promise.all([serve(["--upstream", `http://${regional.host}`, "--tier", "edge-a"]), serve(["--upstream", `http://${regional.host}`, "--tier", "edge-b"])]);
    await pullAndRemove([`${a.host}/${REPO}:${P1}`]);
    await pullAndRemove([`${b.host}/${REPO}:${P2}`]);
    const gets = await originBlobGets(o.logFile);
    expect([...gets.values()].every((n) => n === 1)).toBe(true);
    expect(gets.size).toBe(7 + 1);
    // The overlap (1,1) was asked of the regional tier twice and fetched from the origin once.
    const r = await metrics(regional);
    expect(metric(r, 'tdfs_cache_misses_total{tier="regional",kind="blob"}')).toBe(8);
    expect(metric(r, 'tdfs_cache_hits_total{tier="regional",kind="blob"}')).toBeGreaterThanOrEqual(1);
    expect(metric(await metrics(a), 'tdfs_cache_misses_total{tier="edge-a",kind="blob"}')).toBe(5);
    expect(metric(await metrics(b), 'tdfs_cache_misses_total{tier="edge-b",kind="blob"}')).toBe(5);
  });

  test("20 concurrent skopeo pulls of one partition through a cold edge: one origin fetch per blob", async () => {
    const o = await origin();
    const edge = await serve(["--upstream", `http://${o.url}`]);
    const results = await Promise.all(
      Array.from({ length: 20 }, (_, i) =>
        skopeo(["copy", "--src-tls-verify=false", `docker://${edge.host}/${REPO}:${P1}`, `oci:${join(dir, `conc-${i}`)}:p`]),
      ),
    );
    for (const r of results) expect({ code: r.code, stderr: r.stderr }).toEqual({ code: 0, stderr: "" });
    const gets = await originBlobGets(o.logFile);
    expect(Object.fromEntries(gets)).toEqual(Object.fromEntries([...gets.keys()].map((d) => [d, 1])));
    expect(gets.size).toBe(4 + 1);
  });

  test("a blob corrupted at the origin: the edge's answer breaks off, and it keeps nothing", async () => {
    const o = await origin();
    const edge = await serve(["--upstream", `http://${o.url}`]);
    const [victim] = await layersOf(o.url, "v1");
    const hex = victim!.slice("sha256:".length);
    const file = join(o.dir, "data", "docker", "registry", "v2", "blobs", "sha256", hex.slice(0, 2), hex, "data");
    const bytes = readFileSync(file);
    bytes[1000] = bytes[1000]! ^ 0xff;
    writeFileSync(file, bytes);
    let error: unknown;
    let received = 0;
    try {
      const res = await fetch(`http://${edge.host}/v2/${REPO}/blobs/${victim}`);
      for await (const chunk of res.body!) received += chunk.byteLength;
    } catch (e) {
      error = e;
    }
    expect(error).toBeDefined();
    expect(received).toBeLessThan(bytes.byteLength);
    expect(existsSync(join(edge.dataDir, "blobs", "sha256", hex.slice(0, 2), hex, "data"))).toBe(false);
    const temp = join(edge.dataDir, "_upstream", "tmp");
    expect(existsSync(temp) ? readdirSync(temp) : []).toEqual([]);
    expect(readFileSync(edge.logFile, "utf8")).toContain(`upstream blob ${victim} failed verification`);
    // Asked again, the edge fetches again (nothing was kept) and fails again.
    const again = await fetch(`http://${edge.host}/v2/${REPO}/blobs/${victim}`).then((r) => r.arrayBuffer()).then(() => "whole", () => "broken");
    expect(again).toBe("broken");
    expect((await originBlobGets(o.logFile)).get(victim!)).toBe(2);
  });
});
