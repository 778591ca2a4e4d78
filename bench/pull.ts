/**
 * Issue 4's pull benchmark, in one run against the same local registries (distribution 2.8
 * and `2dfs serve`, both on 127.0.0.1):
 *  1. `2dfs pull REF--rect --format oci|files` of a partition vs `skopeo copy` and
 *     `crane pull --format oci` of a prebuilt image holding the same layers (its own tag);
 *     Beside them, "bun floor": a compiled Bun program that only fetches the blobs into files
 *     with Bun's fastest write path and verifies nothing, i.e. what no Bun client can beat;
 *  2. the overhead of partitioning: the partition pull vs `2dfs pull` of that prebuilt image
 *     from the same registry, and the latency of one partition manifest request (HEAD/GET).
 * The workload is a 4x5 field of random float32-like allotments on a busybox base, built with
 * `--compression none`. Every run starts cold on the client: a fresh 2dfs store, skopeo's
 * blob-info cache removed, a fresh output folder.
 *
 *   bun bench/pull.ts                 # full: 10 MB allotments, 5 runs
 *   BENCH_SCALE=small bun bench/pull.ts
 */
import { existsSync, statSync } from "node:fs";
import { readdir, readFile, rm, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { MANIFEST_MEDIA_TYPES } from "../src/oci/media-types.ts";
import { parseManifest, type ImageManifest } from "../src/oci/manifest.ts";
import {
  makeBusyboxBase,
  makeTempDir,
  removeTempDir,
  runOk,
  startDistribution,
  startTdfsServer,
  toolPath,
  type DistributionHandle,
  type TdfsServer,
} from "../test/e2e/support/index.ts";
import { findCrane, type CraneLookup } from "./lib/crane.ts";
import { renderChart } from "./lib/svg-plot.ts";
import { mbps, printTable, writeResults } from "./lib/table.ts";
import { minMedian, secs, tdfs, tdfsCommand, timeCommand, writeSplits } from "./lib/tools.ts";

const ROWS = 4;
const COLS = 5;
const SKOPEO_CACHE = "/var/lib/containers/cache/blob-info-cache-v1.boltdb";

/** A partition of the field: `count` allotments inside rectangles given as the tag suffix. */
interface Partition {
  count: number;
  suffix: string;
  cells: { row: number; col: number }[];
}

// x = row, y = column, bounds inclusive (reference-2dfs.md).
const PARTITIONS: Partition[] = [
  { count: 1, suffix: "--0.0.0.0", cells: cellsOf(0, 0, 0, 0) },
  { count: 5, suffix: "--0.0.0.4", cells: cellsOf(0, 0, 0, 4) },
  { count: 10, suffix: "--0.0.1.4", cells: cellsOf(0, 0, 1, 4) },
];

function cellsOf(r1: number, c1: number, r2: number, c2: number): { row: number; col: number }[] {
  const out: { row: number; col: number }[] = [];
  for (let row = r1; row <= r2; row++) for (let col = c1; col <= c2; col++) out.push({ row, col });
  return out;
}

type ToolKey = "2dfs oci" | "2dfs files" | "2dfs oci prebuilt" | "skopeo" | "crane" | "bun floor";
/** "bun floor" is a reference, not a competitor: bench/lib/bun-fetch-floor.ts, Bun's least possible pull (no verification). */
const TOOLS: ToolKey[] = ["2dfs oci", "2dfs files", "2dfs oci prebuilt", "skopeo", "crane", "bun floor"];

/** One (registry, partition, tool) measurement. */
interface PullPoint {
  registry: string;
  allotments: number;
  tool: ToolKey;
  ref: string;
  /** Config + layers of the prebuilt image (what a cold OCI pull moves). */
  bytes: number;
  min?: number;
  median?: number;
  all?: number[];
  /** Layer digests of the pulled layout equal the prebuilt image's (undefined for --format files). */
  layersMatch?: boolean;
  error?: string;
}

interface LatencyPoint {
  registry: string;
  ref: string;
  kind: "partition" | "plain tag";
  method: "HEAD" | "GET";
  requests: number;
  p50Ms: number;
  p99Ms: number;
  maxMs: number;
}

interface OverheadPoint {
  registry: string;
  allotments: number;
  partitionMinMs: number;
  prebuiltMinMs: number;
  overheadMinMs: number;
  overheadMedianMs: number;
}

/** What {@link runPullBench} returns and writes to bench/results/pull.json. */
export interface PullBenchResults {
  scale: "small" | "full";
  tdfs: { command: string[]; olderThanSources: boolean };
  crane: CraneLookup;
  field: { rows: number; cols: number; allotmentBytes: number; compression: "none" };
  runs: number;
  pulls: PullPoint[];
  overhead: OverheadPoint[];
  latency: LatencyPoint[];
  errors: string[];
}

interface Registry {
  name: string;
  host: string;
  /** Whether the server resolves partition tags itself (2dfs serve) or the client must (distribution). */
  serverSide: boolean;
}

/** Runs the whole pull benchmark once, prints tables, writes pull.json and pull.svg; servers are stopped even on failure. */
export async function runPullBench(opts: { scale?: "small" | "full" } = {}): Promise<unknown> {
  const scale = opts.scale ?? (process.env.BENCH_SCALE === "small" ? "small" : "full");
  const allotmentBytes = (scale === "small" ? 5 : 10) * 1_000_000;
  const runs = Number(process.env.BENCH_RUNS ?? (scale === "small" ? 3 : 5));
  const latencyRequests = Number(process.env.BENCH_REQUESTS ?? 200);

  const command = tdfsCommand();
  const results: PullBenchResults = {
    scale,
    tdfs: { command, olderThanSources: isOlderThanSources(command[0]!) },
    crane: { ok: false, reason: "not looked up" },
    field: { rows: ROWS, cols: COLS, allotmentBytes, compression: "none" },
    runs,
    pulls: [],
    overhead: [],
    latency: [],
    errors: [],
  };
  console.log(`pull bench: scale ${scale}, ${ROWS}x${COLS} field of ${allotmentBytes / 1e6} MB allotments, ${runs} runs, 2dfs = ${command.join(" ")}`);
  if (results.tdfs.olderThanSources) console.log("pull bench: note: the 2dfs binary is older than src/ (rebuild with `bun run build:bin` or set TDFS_BIN)");

  const work = await makeTempDir("bench-pull");
  const servers: { stop(): Promise<void> }[] = [];
  const savedBin = process.env.TDFS_BIN;
  // The server must run the same 2dfs as the client; startTdfsServer reads TDFS_BIN.
  if (command.length === 1) process.env.TDFS_BIN = command[0];
  let stopping: Promise<void> | undefined;
  const stopAll = () =>
    (stopping ??= (async () => {
      for (const s of servers.reverse()) await s.stop().catch((e) => console.error(`pull bench: stop failed: ${e}`));
      await removeTempDir(work).catch(() => {});
    })());
  const onSignal = (signal: NodeJS.Signals) => {
    console.error(`\npull bench: ${signal}, stopping the servers`);
    void stopAll().finally(() => process.exit(130));
  };
  process.once("SIGINT", onSignal);
  process.once("SIGTERM", onSignal);

  try {
    results.crane = await findCrane();
    if (!results.crane.ok) console.log(`crane: unavailable (${results.crane.reason})`);
    else console.log(`crane: ${results.crane.path} (${results.crane.source}, ${results.crane.version})`);

    // The image: busybox base + 20 allotments of incompressible data, one per cell.
    const base = await makeBusyboxBase(work);
    const splitsDir = join(work, "splits");
    const names = await writeSplits(splitsDir, ROWS * COLS, allotmentBytes);
    const store = join(work, "build-store");
    const baseRef = `oci:${base.layoutDir}:${base.tag}`;
    const build = async (tag: string, cells: { row: number; col: number }[]) => {
      const file = join(work, `${tag.replace(/[:/]/g, "_")}.json`);
      const allotments = cells.map(({ row, col }) => {
        const name = names[row * COLS + col]!;
        return { src: join(splitsDir, name), dst: `/model/${name}`, row, col };
      });
      await writeFile(file, `${JSON.stringify({ allotments }, null, 1)}\n`);
      await tdfs(["build", "-t", tag, "-f", file, "--base", baseRef, "--compression", "none", "--store", store, "--quiet"]);
    };
    await build("model:v1", cellsOf(0, 0, ROWS - 1, COLS - 1));
    // Each prebuilt image keeps its allotments at the same cells, so its layers are the partition's.
    for (const p of PARTITIONS) await build(`prebuilt:k${p.count}`, p.cells);

    const dist: DistributionHandle = await startDistribution();
    servers.push(dist);
    const serve: TdfsServer = await startTdfsServer();
    servers.push(serve);
    const registries: Registry[] = [
      { name: "distribution", host: dist.url, serverSide: false },
      { name: "2dfs serve", host: serve.host, serverSide: true },
    ];
    for (const r of registries) {
      for (const tag of ["model:v1", ...PARTITIONS.map((p) => `prebuilt:k${p.count}`)]) {
        await tdfs(["push", tag, `${r.host}/bench/${tag}`, "--store", store, "--quiet"]);
      }
    }

    const skopeo = toolPath("skopeo");
    const crane = results.crane.ok ? results.crane.path : undefined;
    const floor = await compileFloor(work).catch((e: Error) => {
      results.errors.push(`bun floor: ${e.message}`);
      return undefined;
    });
    for (const r of registries) {
      for (const p of PARTITIONS) {
        const prebuilt = await fetchImageManifest(r.host, "bench/prebuilt", `k${p.count}`);
        const expected = prebuilt.layers.map((l) => l.digest);
        if (r.serverSide) {
          const part = await fetchImageManifest(r.host, "bench/model", `v1${p.suffix}`);
          const same = part.layers.map((l) => l.digest).join() === expected.join();
          if (!same) results.errors.push(`${r.name}: partition v1${p.suffix} layers differ from prebuilt:k${p.count}`);
        }
        const bytes = prebuilt.config.size + prebuilt.layers.reduce((s, l) => s + l.size, 0);
        const partRef = `${r.host}/bench/model:v1${p.suffix}`;
        const preRef = `${r.host}/bench/prebuilt:k${p.count}`;
        for (const tool of TOOLS) {
          const ref = tool === "2dfs oci" || tool === "2dfs files" ? partRef : preRef;
          const point: PullPoint = { registry: r.name, allotments: p.count, tool, ref, bytes };
          results.pulls.push(point);
          if (tool === "skopeo" && !skopeo) {
            point.error = "skopeo: unavailable (not installed)";
            continue;
          }
          if (tool === "bun floor" && !floor) {
            point.error = "bun floor: did not compile";
            continue;
          }
          if (tool === "crane" && !crane) {
            point.error = `crane: unavailable (${results.crane.ok ? "" : results.crane.reason})`;
            continue;
          }
          try {
            let checked = false;
            const timing = await minMedian(runs, async () => {
              const out = join(work, "out");
              const clientStore = join(work, "client-store");
              await rm(out, { recursive: true, force: true });
              await rm(clientStore, { recursive: true, force: true });
              if (tool === "skopeo") await rm(SKOPEO_CACHE, { force: true });
              const seconds = await timePull(tool, ref, out, clientStore, { skopeo, crane, floor, tag: `k${p.count}` });
              if (!checked) {
                checked = true;
                if (tool !== "2dfs files") point.layersMatch = (await readLayoutLayers(out)).join() === expected.join();
                else point.layersMatch = await hasAllotmentFiles(out, p, names, allotmentBytes);
              }
              return seconds;
            });
            point.min = timing.min;
            point.median = timing.median;
            point.all = timing.all;
            console.log(`  ${r.name} ${p.count} allotment(s) ${tool}: min ${secs(timing.min)} s, median ${secs(timing.median)} s${point.layersMatch === false ? " (LAYERS DIFFER)" : ""}`);
          } catch (error) {
            point.error = error instanceof Error ? error.message : String(error);
            results.errors.push(`${r.name} ${p.count} ${tool}: ${point.error}`);
            console.error(`  ${r.name} ${p.count} allotment(s) ${tool} FAILED: ${point.error}`);
          }
        }
        const part = results.pulls.find((x) => x.registry === r.name && x.allotments === p.count && x.tool === "2dfs oci");
        const pre = results.pulls.find((x) => x.registry === r.name && x.allotments === p.count && x.tool === "2dfs oci prebuilt");
        if (part?.min !== undefined && pre?.min !== undefined && part.median !== undefined && pre.median !== undefined) {
          results.overhead.push({
            registry: r.name,
            allotments: p.count,
            partitionMinMs: ms(part.min),
            prebuiltMinMs: ms(pre.min),
            overheadMinMs: ms(part.min - pre.min),
            overheadMedianMs: ms(part.median - pre.median),
          });
        }
      }
    }

    // Manifest latency: the partition tag on 2dfs serve vs plain tags (what distribution can answer).
    const small = PARTITIONS[0]!;
    const big = PARTITIONS[PARTITIONS.length - 1]!;
    const latencyTargets = [
      { registry: "2dfs serve", host: serve.host, repo: "bench/model", ref: `v1${small.suffix}`, kind: "partition" as const },
      { registry: "2dfs serve", host: serve.host, repo: "bench/model", ref: `v1${big.suffix}`, kind: "partition" as const },
      { registry: "2dfs serve", host: serve.host, repo: "bench/prebuilt", ref: `k${small.count}`, kind: "plain tag" as const },
      { registry: "2dfs serve", host: serve.host, repo: "bench/model", ref: "v1", kind: "plain tag" as const },
      { registry: "distribution", host: dist.url, repo: "bench/prebuilt", ref: `k${small.count}`, kind: "plain tag" as const },
      { registry: "distribution", host: dist.url, repo: "bench/model", ref: "v1", kind: "plain tag" as const },
    ];
    for (const t of latencyTargets) {
      for (const method of ["HEAD", "GET"] as const) {
        const l = await manifestLatency(`http://${t.host}/v2/${t.repo}/manifests/${t.ref}`, method, latencyRequests);
        results.latency.push({ registry: t.registry, ref: `${t.repo}:${t.ref}`, kind: t.kind, method, requests: latencyRequests, ...l });
      }
    }
  } catch (error) {
    results.errors.push(`setup: ${error instanceof Error ? error.message : String(error)}`);
    console.error(`pull bench failed: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}`);
  } finally {
    await stopAll();
    process.off("SIGINT", onSignal);
    process.off("SIGTERM", onSignal);
    if (savedBin === undefined) delete process.env.TDFS_BIN;
    else process.env.TDFS_BIN = savedBin;
  }

  report(results);
  await writeResults("pull", results);
  await Bun.write(join(import.meta.dir, "results", "pull.svg"), toChart(results));
  console.log("\nwrote bench/results/pull.json and bench/results/pull.svg");
  return results;
}

/** Times one cold pull of `ref` into `out` with the given tool, in seconds. */
async function timePull(
  tool: ToolKey,
  ref: string,
  out: string,
  store: string,
  bins: { skopeo?: string; crane?: string; floor?: string; tag: string },
): Promise<number> {
  const [cmd, ...pre] = tdfsCommand();
  switch (tool) {
    case "2dfs oci":
    case "2dfs oci prebuilt":
      return timeCommand(cmd!, [...pre, "pull", ref, "-o", out, "--format", "oci", "--store", store, "--quiet"]);
    case "2dfs files":
      return timeCommand(cmd!, [...pre, "pull", ref, "-o", out, "--format", "files", "--store", store, "--quiet"]);
    case "skopeo":
      // Without the accept flag skopeo gzips uncompressed layers on the way into an OCI layout.
      return timeCommand(bins.skopeo!, [
        "copy", "-q", "--src-tls-verify=false", "--dest-oci-accept-uncompressed-layers", `docker://${ref}`, `oci:${out}:${bins.tag}`,
      ]);
    case "crane":
      return timeCommand(bins.crane!, ["pull", "--insecure", "--format", "oci", ref, out]);
    case "bun floor": {
      const slash = ref.indexOf("/");
      const colon = ref.lastIndexOf(":");
      return timeCommand(bins.floor!, [ref.slice(0, slash), ref.slice(slash + 1, colon), ref.slice(colon + 1), out]);
    }
  }
}

/** Compiles bench/lib/bun-fetch-floor.ts with the 2dfs binary's flags (same runtime start-up); returns its path. */
async function compileFloor(work: string): Promise<string> {
  const outfile = join(work, "bun-fetch-floor");
  const entry = join(import.meta.dir, "lib", "bun-fetch-floor.ts");
  await runOk(process.execPath, ["build", "--compile", "--minify", "--bytecode", "--format", "esm", entry, "--outfile", outfile], { timeoutMs: 120_000 });
  return outfile;
}

/** The image manifest behind repo:ref (following an index to linux/amd64). */
async function fetchImageManifest(host: string, repo: string, ref: string): Promise<ImageManifest> {
  const res = await fetch(`http://${host}/v2/${repo}/manifests/${ref}`, { headers: { Accept: MANIFEST_MEDIA_TYPES.join(", ") } });
  if (res.status !== 200) throw new Error(`GET ${host}/${repo}:${ref} answered ${res.status}: ${(await res.text()).slice(0, 300)}`);
  const parsed = parseManifest(new Uint8Array(await res.arrayBuffer()), res.headers.get("content-type") ?? undefined);
  if (parsed.kind === "image") return parsed.manifest;
  const child = parsed.manifest.manifests.find((d) => d.platform?.architecture === "amd64" && d.platform.os === "linux") ?? parsed.manifest.manifests[0];
  if (!child) throw new Error(`${host}/${repo}:${ref} is an empty index`);
  return fetchImageManifest(host, repo, child.digest);
}

/** Layer digests of the (single, or linux/amd64) image in an OCI image layout. */
async function readLayoutLayers(dir: string): Promise<string[]> {
  const blob = async (digest: string) => new Uint8Array(await readFile(join(dir, "blobs", ...digest.split(":"))));
  const index = parseManifest(new Uint8Array(await readFile(join(dir, "index.json"))), "application/vnd.oci.image.index.v1+json");
  if (index.kind !== "index") throw new Error(`${dir}/index.json is not an index`);
  let desc = index.manifest.manifests[0];
  for (let depth = 0; desc !== undefined && depth < 4; depth++) {
    const m = parseManifest(await blob(desc.digest), desc.mediaType);
    if (m.kind === "image") return m.manifest.layers.map((l) => l.digest);
    desc = m.manifest.manifests.find((d) => d.platform?.architecture === "amd64" && d.platform.os === "linux") ?? m.manifest.manifests[0];
  }
  throw new Error(`${dir}: no image manifest in the layout`);
}

/** Whether a --format files pull wrote exactly the partition's allotment files, at full size. */
async function hasAllotmentFiles(dir: string, p: Partition, names: string[], bytes: number): Promise<boolean> {
  const wanted = p.cells.map(({ row, col }) => names[row * COLS + col]!).sort();
  const modelDir = join(dir, "model");
  if (!existsSync(modelDir)) return false;
  const got = (await readdir(modelDir)).sort();
  return got.join() === wanted.join() && got.every((f) => statSync(join(modelDir, f)).size === bytes);
}

/** p50/p99/max of `n` sequential manifest requests over one keep-alive connection, after a warm-up. */
async function manifestLatency(url: string, method: "HEAD" | "GET", n: number): Promise<{ p50Ms: number; p99Ms: number; maxMs: number }> {
  const headers = { Accept: MANIFEST_MEDIA_TYPES.join(", ") };
  const once = async () => {
    const res = await fetch(url, { method, headers });
    await res.arrayBuffer();
    if (res.status !== 200) throw new Error(`${method} ${url}: ${res.status}`);
  };
  for (let i = 0; i < 20; i++) await once();
  const times: number[] = [];
  for (let i = 0; i < n; i++) {
    const t = performance.now();
    await once();
    times.push(performance.now() - t);
  }
  times.sort((a, b) => a - b);
  const at = (q: number) => round2(times[Math.min(times.length - 1, Math.floor(times.length * q))]!);
  return { p50Ms: at(0.5), p99Ms: at(0.99), maxMs: round2(times[times.length - 1]!) };
}

function isOlderThanSources(bin: string): boolean {
  if (!bin.endsWith("2dfs") || !existsSync(bin)) return false;
  const built = statSync(bin).mtimeMs;
  const srcDir = join(import.meta.dir, "..", "src");
  for (const f of new Bun.Glob("**/*.ts").scanSync(srcDir)) if (statSync(join(srcDir, f)).mtimeMs > built) return true;
  return false;
}

function ms(seconds: number): number {
  return Math.round(seconds * 10_000) / 10;
}

function round2(v: number): number {
  return Math.round(v * 100) / 100;
}

/** Prints the pull, overhead and latency tables. */
function report(r: PullBenchResults): void {
  printTable(
    `Cold pull of a partition (2dfs) vs a prebuilt image with the same layers (skopeo, crane), ${r.runs} runs`,
    r.pulls.map((p) => ({
      registry: p.registry,
      allotments: p.allotments,
      MB: Math.round(p.bytes / 1e5) / 10,
      tool: p.tool,
      "min s": p.min === undefined ? "-" : secs(p.min),
      "median s": p.median === undefined ? "-" : secs(p.median),
      "MB/s (min)": p.min === undefined ? "-" : mbps(p.bytes, p.min),
      "same layers": p.layersMatch === undefined ? "-" : p.layersMatch ? "yes" : "NO",
      note: p.error ? p.error.split("\n")[0]!.slice(0, 90) : "",
    })),
  );
  for (const reg of new Set(r.pulls.map((p) => p.registry))) {
    for (const k of new Set(r.pulls.map((p) => p.allotments))) {
      const pts = r.pulls.filter((p) => p.registry === reg && p.allotments === k && p.min !== undefined);
      const ours = pts.find((p) => p.tool === "2dfs oci");
      const others = pts.filter((p) => p.tool === "skopeo" || p.tool === "crane");
      if (!ours || others.length === 0) continue;
      const fastest = others.reduce((a, b) => (a.min! <= b.min! ? a : b));
      const verdict = ours.min! <= fastest.min! ? "met" : "MISSED";
      const floor = pts.find((p) => p.tool === "bun floor");
      const floorNote = floor ? ` (bun floor, unverified: ${secs(floor.min!)} s)` : "";
      console.log(`aim (${reg}, ${k}): 2dfs oci ${secs(ours.min!)} s vs fastest ${fastest.tool} ${secs(fastest.min!)} s: ${verdict}${floorNote}`);
    }
  }
  printTable("Overhead of partitioning: 2dfs pull of the partition minus 2dfs pull of the prebuilt image, same registry (ms)", r.overhead.map((o) => ({ ...o })));
  printTable(
    "Manifest request latency (ms, sequential, keep-alive)",
    r.latency.map((l) => ({ registry: l.registry, ref: l.ref, kind: l.kind, method: l.method, n: l.requests, p50: l.p50Ms, p99: l.p99Ms, max: l.maxMs })),
  );
  if (!r.crane.ok) console.log(`crane: unavailable (${r.crane.reason})`);
  if (r.errors.length) console.log(`\nerrors:\n  ${r.errors.join("\n  ")}`);
}

/** Median pull time per (registry, partition) and tool, as grouped bars. */
function toChart(r: PullBenchResults): string {
  const groups = [...new Set(r.pulls.map((p) => `${p.allotments} @ ${p.registry === "distribution" ? "distrib." : "2dfs serve"}`))];
  const keyOf = (p: PullPoint) => `${p.allotments} @ ${p.registry === "distribution" ? "distrib." : "2dfs serve"}`;
  return renderChart({
    title: "Cold pull: 2dfs partition vs prebuilt image",
    xLabel: "allotments in the partition @ registry",
    yLabel: "median pull time (s)",
    categories: groups,
    series: TOOLS.map((tool) => ({
      name: tool,
      values: groups.map((g) => r.pulls.find((p) => keyOf(p) === g && p.tool === tool)?.median ?? Number.NaN),
    })),
  });
}

if (import.meta.main) {
  const results = (await runPullBench()) as PullBenchResults;
  if (results.errors.some((e) => e.startsWith("setup:"))) process.exitCode = 1;
}
