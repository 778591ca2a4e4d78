/**
 * Issue 13's registry benchmark on object storage: `2dfs serve --storage s3://...` (one instance,
 * and two instances on one bucket) beside distribution 2.8 (`storage: s3` with `regionendpoint`)
 * on the same Ceph RGW (scripts/ceph-s3.sh, memstore), side by side in one run.
 *
 * Workload: 10 allotments of 10 MiB of random bytes, `2dfs build --compression none`, as two
 * images of 5 allotments (h0, h1: 52 MB each) and one 2 x 5 field (model:v1, the same 10 layers).
 *  - push: h0 and h1 pushed at the same time by two client processes (`2dfs push`, then the
 *    same with `skopeo copy --preserve-digests`), to (a) both to one 2dfs serve, (b) h0 to
 *    instance A and h1 to instance B on the same bucket, (c) both to distribution.
 *    Every timed push starts from a fresh bucket with freshly started servers, so no blob is
 *    already in the store (both registries skip moving a blob they already have).
 *  - partition pull: `2dfs pull model:v1--0.0.0.4 --format oci` (5 layers, 52 MB) into a fresh
 *    client store from each registry (distribution cannot partition: 2dfs picks the layers
 *    itself), and a pair of pulls at once (--0.0.0.4 and --1.0.1.4) through one instance, two
 *    instances, and distribution. 2dfs serve is measured streaming blobs and with --redirect
 *    (distribution redirects blob GETs to the store by default).
 * Min and median of BENCH_RUNS (3). Writes bench/results/s3-registry.json and .svg.
 *
 *   TDFS_BIN=/tmp/s3bench/2dfs bun bench/s3-registry.ts
 */
import { readdir, rm, stat, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { startCephS3, type CephS3 } from "../test/support/ceph-s3.ts";
import { freePort, makeTempDir, removeTempDir, run, runOk, toolPath } from "../test/e2e/support/index.ts";
import { renderChart } from "./lib/svg-plot.ts";
import { mbps, printTable, writeResults } from "./lib/table.ts";
import { minMedian, secs, tdfs, tdfsCommand, timeCommand, writeSplits } from "./lib/tools.ts";

const RUNS = Number(process.env.BENCH_RUNS ?? 3);
const MIB = 1 << 20;
const ALLOTMENT = 10 * MIB;
const COLS = 5;
const SKOPEO_CACHE = "/var/lib/containers/cache/blob-info-cache-v1.boltdb";

interface Server {
  name: string;
  host: string;
  proc: ReturnType<typeof Bun.spawn>;
}

async function waitUp(host: string, proc: ReturnType<typeof Bun.spawn>, what: string, log: string): Promise<void> {
  for (let i = 0; i < 400; i++) {
    if (proc.exitCode !== null) throw new Error(`${what} exited (${proc.exitCode}) before answering: ${(await Bun.file(log).text()).slice(-600)}`);
    try {
      if ((await fetch(`http://${host}/v2/`)).status === 200) return;
    } catch {}
    await Bun.sleep(25);
  }
  throw new Error(`${what} did not answer /v2/ within 10 s`);
}

/** Creates a bucket with a SigV4-signed PUT (as scripts/ceph-s3.sh does). */
async function createBucket(ceph: CephS3, bucket: string): Promise<void> {
  const e = ceph.env;
  await runOk("curl", ["-sf", "-X", "PUT", "--aws-sigv4", "aws:amz:us-east-1:s3", "--user", `${e.AWS_ACCESS_KEY_ID}:${e.AWS_SECRET_ACCESS_KEY}`,
    "-H", "x-amz-content-sha256: UNSIGNED-PAYLOAD", `${e.S3_ENDPOINT}/${bucket}`, "-o", "/dev/null"]);
}

/** Deletes a bucket with everything in it and lets RGW free the data now (memstore is RAM). */
async function purgeBucket(ceph: CephS3, bucket: string): Promise<void> {
  const admin = ["-c", join(ceph.dir, "ceph.conf"), "-n", "client.rgw.a"];
  await run("radosgw-admin", [...admin, "bucket", "rm", `--bucket=${bucket}`, "--purge-objects", "--bypass-gc"], { timeoutMs: 120_000 });
  await run("radosgw-admin", [...admin, "gc", "process", "--include-all"], { timeoutMs: 120_000 });
}

async function startTdfs(ceph: CephS3, name: string, bucket: string, prefix: string, extra: string[] = []): Promise<Server> {
  const port = await freePort();
  const host = `127.0.0.1:${port}`;
  const [cmd, ...pre] = tdfsCommand();
  const storage = `s3://${bucket}/${prefix}?endpoint=${encodeURIComponent(ceph.env.S3_ENDPOINT!)}&region=us-east-1`;
  const log = join(work, `serve-${port}.log`);
  const proc = Bun.spawn([cmd!, ...pre, "serve", "--addr", host, "--storage", storage, "--no-ui", ...extra], {
    env: { ...process.env, ...ceph.env }, stdout: "ignore", stderr: Bun.file(log),
  });
  const server = { name, host, proc };
  servers.push(server);
  await waitUp(host, proc, name, log);
  return server;
}

async function startDistribution(ceph: CephS3, dir: string, bucket: string): Promise<Server> {
  const port = await freePort();
  const host = `127.0.0.1:${port}`;
  const e = ceph.env;
  const config = join(dir, `distribution-${bucket}.yml`);
  await writeFile(config, `version: 0.1
log:
  level: error
  accesslog:
    disabled: true
storage:
  s3:
    accesskey: ${e.AWS_ACCESS_KEY_ID}
    secretkey: ${e.AWS_SECRET_ACCESS_KEY}
    region: us-east-1
    regionendpoint: ${e.S3_ENDPOINT}
    bucket: ${bucket}
    rootdirectory: /distribution
    secure: false
    v4auth: true
    chunksize: 5242880
  delete:
    enabled: true
http:
  addr: ${host}
`);
  // AWS_CA_BUNDLE (set on some machines) makes distribution's AWS SDK panic at start; the
  // endpoint is plain HTTP on loopback, so no CA is needed.
  const { AWS_CA_BUNDLE: _, ...env } = process.env;
  const log = join(dir, `distribution-${bucket}.log`);
  const proc = Bun.spawn(["docker-registry", "serve", config], { env, stdout: "ignore", stderr: Bun.file(log) });
  const server = { name: "distribution", host, proc };
  servers.push(server);
  await waitUp(host, proc, "distribution", log);
  return server;
}

async function stopAll(servers: Server[]): Promise<void> {
  for (const s of servers) s.proc.kill();
  await Promise.all(servers.map((s) => s.proc.exited));
  servers.length = 0;
}

/** The three push targets: two registry hosts each, for h0 and h1. */
type PushTarget = "one 2dfs serve" | "two 2dfs serve" | "distribution";
const TARGETS: PushTarget[] = ["one 2dfs serve", "two 2dfs serve", "distribution"];
type Tool = "2dfs push" | "skopeo copy";

interface Point {
  kind: "push" | "pull";
  what: string;
  target: string;
  bytes: number;
  min?: number;
  median?: number;
  all?: number[];
  error?: string;
}

const work = await makeTempDir("bench-s3-registry");
const servers: Server[] = [];
let ceph: CephS3 | undefined;
const points: Point[] = [];
try {
  const t0 = performance.now();
  ceph = await startCephS3();
  console.log(`s3-registry bench: RGW at ${ceph.env.S3_ENDPOINT} (${((performance.now() - t0) / 1000).toFixed(1)} s to start), 2dfs = ${tdfsCommand().join(" ")}, ${RUNS} runs`);

  // 10 allotments, written once; h0 = row 0, h1 = row 1, model:v1 = both rows.
  const splits = join(work, "splits");
  const names = await writeSplits(splits, 2 * COLS, ALLOTMENT);
  const store = join(work, "store");
  const build = async (tag: string, rows: number[]) => {
    const allotments = rows.flatMap((row) => names.slice(row * COLS, (row + 1) * COLS).map((n, col) => ({ src: join(splits, n), dst: `/model/${n}`, row, col })));
    const file = join(work, `${tag.replace(":", "_")}.json`);
    await writeFile(file, JSON.stringify({ allotments }));
    await tdfs(["build", "-t", tag, "-f", file, "--compression", "none", "--store", store, "--quiet"]);
  };
  await build("h0:v1", [0]);
  await build("h1:v1", [1]);
  await build("model:v1", [0, 1]);
  const halfBytes = COLS * ALLOTMENT;
  const pairBytes = 2 * halfBytes;
  const skopeo = toolPath("skopeo");

  // One timed push of h0 and h1 at once with `tool` to `target`, on a fresh bucket and fresh servers.
  let round = 0;
  const pushOnce = async (tool: Tool, target: PushTarget): Promise<number> => {
    const bucket = `push${round++}`;
    await createBucket(ceph!, bucket);
    try {
      let hosts: [string, string];
      if (target === "distribution") {
        const d = await startDistribution(ceph!, work, bucket);
        hosts = [d.host, d.host];
      } else {
        const a = await startTdfs(ceph!, "2dfs A", bucket, "tdfs");
        const b = target === "two 2dfs serve" ? await startTdfs(ceph!, "2dfs B", bucket, "tdfs") : a;
        hosts = [a.host, b.host];
      }
      await rm(join(store, ".2dfs", "seen"), { recursive: true, force: true });
      await rm(SKOPEO_CACHE, { force: true });
      const one = (i: 0 | 1) => {
        const [cmd, ...pre] = tdfsCommand();
        return tool === "2dfs push"
          ? timeCommand(cmd!, [...pre, "push", `h${i}:v1`, `${hosts[i]}/bench/h${i}:v1`, "--store", store, "--quiet"])
          : timeCommand(skopeo!, ["copy", "-q", "--preserve-digests", "--dest-tls-verify=false", `oci:${store}:h${i}:v1`, `docker://${hosts[i]}/bench/h${i}:v1`]);
      };
      const t = performance.now();
      await Promise.all([one(0), one(1)]);
      return (performance.now() - t) / 1000;
    } finally {
      await stopAll(servers);
      await purgeBucket(ceph!, bucket);
    }
  };

  for (const tool of ["2dfs push", "skopeo copy"] as Tool[]) {
    for (const target of TARGETS) {
      const point: Point = { kind: "push", what: `${tool} h0 + h1 at once`, target, bytes: pairBytes };
      points.push(point);
      if (tool === "skopeo copy" && !skopeo) {
        point.error = "skopeo not installed";
        continue;
      }
      try {
        Object.assign(point, await minMedian(RUNS, () => pushOnce(tool, target)));
        console.log(`  ${point.what} -> ${target}: min ${secs(point.min!)} s`);
      } catch (e) {
        point.error = e instanceof Error ? e.message.slice(0, 500) : String(e);
        console.error(`  ${point.what} -> ${target}: ${point.error}`);
      }
    }
  }

  // Pulls: one bucket, model:v1 pushed (untimed) through 2dfs A and to distribution.
  const bucket = "pull";
  await createBucket(ceph, bucket);
  const a = await startTdfs(ceph, "2dfs A", bucket, "tdfs");
  const b = await startTdfs(ceph, "2dfs B", bucket, "tdfs");
  const r = await startTdfs(ceph, "2dfs R (--redirect)", bucket, "tdfs", ["--redirect"]);
  const d = await startDistribution(ceph, work, bucket);
  await tdfs(["push", "model:v1", `${a.host}/bench/model:v1`, "--store", store, "--quiet"]);
  await tdfs(["push", "model:v1", `${d.host}/bench/model:v1`, "--store", store, "--quiet"]);
  let pulls = 0;
  const pullOnce = async (host: string, rect: string): Promise<void> => {
    const n = pulls++;
    const out = join(work, `pull-out-${n}`);
    const clientStore = join(work, `pull-store-${n}`);
    try {
      const [cmd, ...pre] = tdfsCommand();
      await timeCommand(cmd!, [...pre, "pull", `${host}/bench/model:v1--${rect}`, "-o", out, "--format", "oci", "--store", clientStore, "--quiet"]);
      // A pull that moved less than the partition's 5 layers would be a wrong fast number.
      const blobs = join(out, "blobs", "sha256");
      let bytes = 0;
      for (const f of await readdir(blobs)) bytes += (await stat(join(blobs, f))).size;
      if (bytes < halfBytes) throw new Error(`pull of ${rect} from ${host} wrote ${bytes} bytes of blobs, expected at least ${halfBytes}`);
    } finally {
      await rm(out, { recursive: true, force: true });
      await rm(clientStore, { recursive: true, force: true });
    }
  };
  const pullCases: { what: string; target: string; hosts: string[] }[] = [
    { what: "pull --0.0.0.4", target: "one 2dfs serve", hosts: [a.host] },
    { what: "pull --0.0.0.4", target: "one 2dfs serve --redirect", hosts: [r.host] },
    { what: "pull --0.0.0.4", target: "distribution", hosts: [d.host] },
    { what: "pull --0.0.0.4 + --1.0.1.4 at once", target: "one 2dfs serve", hosts: [a.host, a.host] },
    { what: "pull --0.0.0.4 + --1.0.1.4 at once", target: "two 2dfs serve", hosts: [a.host, b.host] },
    { what: "pull --0.0.0.4 + --1.0.1.4 at once", target: "distribution", hosts: [d.host, d.host] },
  ];
  for (const c of pullCases) {
    const point: Point = { kind: "pull", what: c.what, target: c.target, bytes: c.hosts.length * halfBytes };
    points.push(point);
    try {
      Object.assign(point, await minMedian(RUNS, async () => {
        const t = performance.now();
        await Promise.all(c.hosts.map((h, i) => pullOnce(h, i === 0 ? `0.0.0.${COLS - 1}` : `1.0.1.${COLS - 1}`)));
        return (performance.now() - t) / 1000;
      }));
      console.log(`  ${c.what} <- ${c.target}: min ${secs(point.min!)} s`);
    } catch (e) {
      point.error = e instanceof Error ? e.message.slice(0, 500) : String(e);
      console.error(`  ${c.what} <- ${c.target}: ${point.error}`);
    }
  }
  await stopAll(servers);
  await purgeBucket(ceph, bucket);

  printTable(
    `2dfs serve vs distribution 2.8 on one Ceph RGW (memstore), 10 x 10 MiB uncompressed allotments, min / median of ${RUNS}`,
    points.map((p) => ({
      operation: p.what,
      registry: p.target,
      MB: Math.round(p.bytes / 1e5) / 10,
      "min s": p.min === undefined ? "n/a" : secs(p.min),
      "median s": p.median === undefined ? "n/a" : secs(p.median),
      "MB/s (min)": p.min === undefined ? (p.error ?? "n/a") : mbps(p.bytes, p.min),
    })),
  );
  await writeResults("s3-registry", { runs: RUNS, allotmentBytes: ALLOTMENT, allotments: 2 * COLS, store: "Ceph RGW 16.2, memstore OSD, one node", points });
  const whats = [...new Set(points.map((p) => p.what))];
  const series = [...new Set(points.map((p) => p.target))].map((target) => ({
    name: target,
    values: whats.map((w) => {
      const p = points.find((x) => x.what === w && x.target === target);
      return p?.min === undefined ? NaN : p.bytes / 1e6 / p.min;
    }),
  }));
  await Bun.write(join(import.meta.dir, "results", "s3-registry.svg"), renderChart({
    title: "Registry on Ceph RGW: 2dfs serve vs distribution",
    xLabel: "operation (h0 + h1 = 2 x 52 MB; a partition = 52 MB)",
    yLabel: "MB/s (min of runs)",
    categories: whats.map((w) => w.replace(" h0 + h1 at once", " x2").replace("--0.0.0.4 + --1.0.1.4 at once", "x2")),
    series,
  }));
  console.log("\nwrote bench/results/s3-registry.json and bench/results/s3-registry.svg");
} finally {
  await stopAll(servers).catch(() => {});
  await ceph?.stop();
  await removeTempDir(work).catch(() => {});
}
