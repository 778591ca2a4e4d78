/**
 * `2dfs serve` side by side with the distribution registry (Debian's docker-registry,
 * 2.8) on the same machine: GET throughput of a 1 GB blob, latency of a partition
 * manifest of a 1,000-allotment field (against the plain-tag GET of the same manifest on
 * distribution, which cannot partition), 50 concurrent pulls of different partitions, and
 * `2dfs push` of workload A (targets.md: 50 x 10 MB allotments built with `2dfs build`) beside
 * `skopeo copy` of the same image from the store to the same registry.
 * Each server runs in its own process; the client is this process.
 *
 *   bun bench/registry.ts
 *   BENCH_BLOB_MB=256 BENCH_REQUESTS=2000 bun bench/registry.ts
 */
import { mkdtemp, rm } from "node:fs/promises";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { composeNative } from "../src/field/native-format.ts";
import { sha256Bytes } from "../src/hash/sha256.ts";
import type { ImageConfig } from "../src/oci/config.ts";
import { MediaType } from "../src/oci/media-types.ts";
import { bestOf, mbps, printTable, writeResults } from "./lib/table.ts";
import { tdfs, timeCommand, writeRandomFile, writeSplits } from "./lib/tools.ts";

const BLOB_MB = Number(process.env.BENCH_BLOB_MB ?? 1000);
const REQUESTS = Number(process.env.BENCH_REQUESTS ?? 1000);
const RUNS = Number(process.env.BENCH_RUNS ?? 3);
const ROOT = resolve(import.meta.dir, "..");
const SKOPEO_CACHE = "/var/lib/containers/cache/blob-info-cache-v1.boltdb";

interface Target {
  name: string;
  url: string;
  proc: ReturnType<typeof Bun.spawn>;
}

async function freePort(): Promise<number> {
  return new Promise((done) => {
    const s = createServer().listen(0, "127.0.0.1", () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => done(port));
    });
  });
}

async function waitUp(url: string): Promise<void> {
  for (let i = 0; i < 200; i++) {
    try {
      if ((await fetch(`${url}/v2/`)).status === 200) return;
    } catch {}
    await Bun.sleep(50);
  }
  throw new Error(`${url} did not come up`);
}

async function start2dfs(dir: string): Promise<Target> {
  const port = await freePort();
  const code = `const { startRegistry } = await import(${JSON.stringify(join(ROOT, "src/registry/server.ts"))});
await startRegistry({ addr: "127.0.0.1:${port}", dataDir: ${JSON.stringify(join(dir, "2dfs"))} });`;
  const proc = Bun.spawn([process.execPath, "--eval", code], { stdout: "ignore", stderr: "inherit" });
  const url = `http://127.0.0.1:${port}`;
  await waitUp(url);
  return { name: "2dfs serve", url, proc };
}

async function startDistribution(dir: string): Promise<Target | undefined> {
  const bin = Bun.which("docker-registry");
  if (!bin) {
    console.warn("docker-registry not installed: baseline skipped (apt-get install docker-registry)");
    return undefined;
  }
  const port = await freePort();
  const config = join(dir, "distribution.yml");
  await Bun.write(
    config,
    `version: 0.1\nlog:\n  level: error\n  accesslog:\n    disabled: true\nstorage:\n  filesystem:\n    rootdirectory: ${join(dir, "distribution")}\n  delete:\n    enabled: true\nhttp:\n  addr: 127.0.0.1:${port}\n`,
  );
  const proc = Bun.spawn([bin, "serve", config], { stdout: "ignore", stderr: "ignore" });
  const url = `http://127.0.0.1:${port}`;
  await waitUp(url);
  return { name: "distribution 2.8", url, proc };
}

async function pushBlob(t: Target, repo: string, body: Blob | Uint8Array, digest: string): Promise<void> {
  const start = await fetch(`${t.url}/v2/${repo}/blobs/uploads/`, { method: "POST" });
  const location = new URL(start.headers.get("location")!, t.url);
  location.searchParams.set("digest", digest);
  const put = await fetch(location, { method: "PUT", body, headers: { "Content-Type": "application/octet-stream" } });
  if (put.status !== 201) throw new Error(`${t.name}: blob push ${put.status} ${await put.text()}`);
}

async function pushManifest(t: Target, repo: string, tag: string, bytes: Uint8Array): Promise<void> {
  const r = await fetch(`${t.url}/v2/${repo}/manifests/${tag}`, { method: "PUT", body: bytes, headers: { "Content-Type": MediaType.ociManifest } });
  if (r.status !== 201) throw new Error(`${t.name}: manifest push ${r.status} ${await r.text()}`);
}

async function drain(r: Response): Promise<number> {
  let n = 0;
  for await (const c of r.body!) n += c.byteLength;
  return n;
}

// curl is the same neutral client for both servers (and lighter than a JS client on 2 cores).
async function getWithCurl(url: string, size: number): Promise<void> {
  const curl = Bun.which("curl");
  if (!curl) {
    const n = await drain(await fetch(url));
    if (n !== size) throw new Error(`${url}: got ${n} of ${size} bytes`);
    return;
  }
  const p = Bun.spawn([curl, "-s", "-o", "/dev/null", "-w", "%{size_download}", url], { stdout: "pipe" });
  const n = Number(await new Response(p.stdout).text());
  if (n !== size) throw new Error(`${url}: got ${n} of ${size} bytes`);
}

function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * p))]!;
}

// A native field of 1,000 tiny allotments (25 x 40) on a one-layer base.
async function pushField(t: Target): Promise<void> {
  const baseLayer = new TextEncoder().encode("base");
  await pushBlob(t, "field", baseLayer, sha256Bytes(baseLayer));
  const config: ImageConfig = { architecture: "amd64", os: "linux", rootfs: { type: "layers", diff_ids: [sha256Bytes(baseLayer)] } };
  const allotments = [];
  for (let row = 0; row < 25; row++) {
    for (let col = 0; col < 40; col++) {
      const bytes = new TextEncoder().encode(`allotment ${row} ${col}`);
      const digest = sha256Bytes(bytes);
      await pushBlob(t, "field", bytes, digest);
      allotments.push({ row, col, diffId: digest, layer: { mediaType: MediaType.ociLayer, digest, size: bytes.byteLength } });
    }
  }
  const base = {
    schemaVersion: 2 as const,
    mediaType: MediaType.ociManifest,
    config: { mediaType: MediaType.ociConfig, digest: sha256Bytes(baseLayer), size: 0 },
    layers: [{ mediaType: MediaType.ociLayer, digest: sha256Bytes(baseLayer), size: baseLayer.byteLength }],
  };
  const composed = composeNative({ manifest: base, config }, allotments, { created: "2025-01-01T00:00:00Z", describe: (a) => `COPY ${a.row},${a.col}`, sha256: sha256Bytes });
  await pushBlob(t, "field", composed.configBytes, composed.configDescriptor.digest);
  await pushManifest(t, "field", "v1", composed.manifestBytes);
}

async function latency(t: Target, tag: string): Promise<{ p50: number; p99: number; max: number }> {
  const url = `${t.url}/v2/field/manifests/${tag}`;
  const headers = { Accept: `${MediaType.ociManifest}, ${MediaType.ociIndex}` };
  for (let i = 0; i < 50; i++) await drain(await fetch(url, { headers }));
  const times: number[] = [];
  for (let i = 0; i < REQUESTS; i++) {
    const started = performance.now();
    const r = await fetch(url, { headers });
    await drain(r);
    if (r.status !== 200) throw new Error(`${t.name} ${tag}: ${r.status}`);
    times.push(performance.now() - started);
  }
  times.sort((a, b) => a - b);
  const round = (v: number) => Math.round(v * 1000) / 1000;
  return { p50: round(percentile(times, 0.5)), p99: round(percentile(times, 0.99)), max: round(times[times.length - 1]!) };
}

// 50 clients at once, each resolving a different partition by tag, then fetching it and its config by digest.
async function concurrentPulls(t: Target): Promise<{ seconds: number; errors: number }> {
  const started = performance.now();
  let errors = 0;
  await Promise.all(
    Array.from({ length: 50 }, async (_, i) => {
      const row = i % 25;
      const tag = `v1--${row}.0.${row}.${i % 40}`;
      try {
        const head = await fetch(`${t.url}/v2/field/manifests/${tag}`, { method: "HEAD" });
        const digest = head.headers.get("docker-content-digest");
        const m = await fetch(`${t.url}/v2/field/manifests/${digest}`);
        const doc = (await m.json()) as { config: { digest: string } };
        const c = await fetch(`${t.url}/v2/field/blobs/${doc.config.digest}`);
        await drain(c);
        if (head.status !== 200 || m.status !== 200 || c.status !== 200) errors++;
      } catch {
        errors++;
      }
    }),
  );
  return { seconds: (performance.now() - started) / 1000, errors };
}

/** Builds workload A into a store of its own; returns the store folder. */
async function buildWorkloadA(dir: string): Promise<string> {
  const splits = join(dir, "a-splits");
  const names = await writeSplits(splits, 50, 10 * 1024 * 1024);
  const allotments = names.map((name, i) => ({ src: join(splits, name), dst: `/model/${name}`, row: Math.floor(i / 10), col: i % 10 }));
  await Bun.write(join(dir, "a.json"), JSON.stringify({ allotments }));
  const store = join(dir, "a-store");
  await tdfs(["build", "-t", "a:v1", "-f", join(dir, "a.json"), "--store", store, "--quiet"]);
  return store;
}

// Every run pushes to a new repository, and forgets where blobs were seen so nothing is mounted.
async function pushWorkloadA(t: Target, store: string, runs: number): Promise<{ tdfs: number; skopeo?: number }> {
  const host = new URL(t.url).host;
  let run = 0;
  const forget = () => rm(join(store, ".2dfs", "seen"), { recursive: true, force: true });
  const tdfsSeconds = await bestOf(runs, () => tdfs(["push", "a:v1", `${host}/a-2dfs/run${run++}:v1`, "--store", store, "--quiet"]), forget);
  const skopeo = Bun.which("skopeo");
  if (!skopeo) return { tdfs: tdfsSeconds };
  let copy = 0;
  // --preserve-digests: the same bytes as 2dfs sends (skopeo would otherwise gzip uncompressed
  // layers). Its blob-info cache would let it mount from its own earlier run: forget that too.
  const forgetSkopeo = () => rm(SKOPEO_CACHE, { force: true });
  const skopeoSeconds = await bestOf(runs, () => timeCommand(skopeo, ["copy", "-q", "--preserve-digests", "--dest-tls-verify=false", `oci:${store}:a:v1`, `docker://${host}/a-skopeo/run${copy++}:v1`]), forgetSkopeo);
  return { tdfs: tdfsSeconds, skopeo: skopeoSeconds };
}

const work = await mkdtemp(join(tmpdir(), "2dfs-bench-registry-"));
const targets: Target[] = [];
try {
  targets.push(await start2dfs(work));
  const distribution = await startDistribution(work);
  if (distribution) targets.push(distribution);

  const blobPath = join(work, "blob.bin");
  const size = BLOB_MB * 1_000_000;
  await writeRandomFile(blobPath, size);
  const hasher = new Bun.CryptoHasher("sha256");
  for await (const c of Bun.file(blobPath).stream()) hasher.update(c);
  const blobDigest = `sha256:${hasher.digest("hex")}`;

  const storeA = await buildWorkloadA(work);
  const rows: Record<string, string | number>[] = [];
  const pushRows: Record<string, string | number>[] = [];
  const results: Record<string, unknown> = {};
  for (const t of targets) {
    const pushA = await pushWorkloadA(t, storeA, RUNS);
    pushRows.push({ registry: t.name, "2dfs push s": Number(pushA.tdfs.toFixed(3)), "skopeo copy s": pushA.skopeo === undefined ? "n/a" : Number(pushA.skopeo.toFixed(3)), target: "<= 1.0 s" });
    const pushSeconds = await bestOf(1, () => pushBlob(t, "big", Bun.file(blobPath), blobDigest));
    const getSeconds = await bestOf(RUNS, () => getWithCurl(`${t.url}/v2/big/blobs/${blobDigest}`, size));
    await pushField(t);
    const plain = await latency(t, "v1");
    const partition = t.name === "2dfs serve" ? await latency(t, "v1--0.0.9.9") : undefined;
    const pulls = t.name === "2dfs serve" ? await concurrentPulls(t) : undefined;
    results[t.name] = { pushSeconds, getSeconds, plain, partition, pulls, pushWorkloadA: pushA };
    rows.push({
      registry: t.name,
      [`push ${BLOB_MB} MB (MB/s)`]: mbps(size, pushSeconds),
      [`GET ${BLOB_MB} MB (MB/s)`]: mbps(size, getSeconds),
      "plain tag p50/p99 ms": `${plain.p50} / ${plain.p99}`,
      "partition p50/p99 ms": partition ? `${partition.p50} / ${partition.p99}` : "n/a",
      "50 concurrent pulls": pulls ? `${pulls.seconds.toFixed(2)} s, ${pulls.errors} errors` : "n/a",
    });
  }
  printTable(`Registry: 1 GB-class blob and a 1,000-allotment field (${REQUESTS} sequential requests per latency row)`, rows);
  printTable(`Push of workload A (50 x 10 MiB allotments, 524 MB) to each registry, min of ${RUNS}`, pushRows);
  await writeResults("registry", { blobMB: BLOB_MB, requests: REQUESTS, results });
} finally {
  for (const t of targets) t.proc.kill();
  await rm(work, { recursive: true, force: true });
}
