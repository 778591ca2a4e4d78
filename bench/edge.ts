/**
 * Edge cache (issue 14): 10 nodes each pull a different, overlapping partition of workload A
 * (50 allotments of 10 MiB in a 5 x 10 field; node i takes columns i..i+1 of every row, so
 * neighbours share 5 allotments) at the same time, cold, then again warm, three ways side by
 * side in one run:
 *   direct  - every node pulls from the origin (`2dfs serve`);
 *   edge    - through one `2dfs serve --upstream <origin>`;
 *   proxy   - through distribution 2.8 in pull-through mode (`proxy: remoteurl: <origin>`).
 * "Bytes from origin" is the sum of the origin's GET response bodies (its access log); wall
 * time runs from the first request to the last verified byte of all 10 nodes. A node is an
 * in-process client (manifest, config, then every layer streamed and SHA-256 checked,
 * nothing written to disk), so the numbers are about the registries, not a runtime's unpacking.
 *
 *   bun bench/edge.ts            # BENCH_EDGE_MIB=2 for a smaller field (same shape)
 *
 * Prints a table, writes bench/results/edge.json and bench/results/edge.svg.
 */
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { renderChart } from "./lib/svg-plot.ts";
import { printTable, writeResults } from "./lib/table.ts";
import { tdfs, writeSplits } from "./lib/tools.ts";
import { hasTool, makeTempDir, removeTempDir, startDistribution, startTdfsServer } from "../test/e2e/support/index.ts";

const MIB = Number(process.env.BENCH_EDGE_MIB ?? 10);
const ROWS = 5;
const COLS = 10;
const NODES = 10;
const REPO = "bench/a";
const ACCEPT = "application/vnd.oci.image.manifest.v1+json, application/vnd.oci.image.index.v1+json";

/** Sum of GET response bodies (status 200/206) in a 2dfs access log. */
function servedBytes(logFile: string): number {
  let total = 0;
  for (const m of readFileSync(logFile, "utf8").matchAll(/"GET \/v2\/[^"]*" 20[06] (\d+) /g)) total += Number(m[1]);
  return total;
}

/** One node's pull of `ref` from `host`; returns the bytes received. */
async function pullNode(host: string, ref: string): Promise<number> {
  const get = async (path: string, headers: Record<string, string> = {}) => {
    const res = await fetch(`http://${host}/v2/${REPO}/${path}`, { headers });
    if (!res.ok) throw new Error(`GET ${host} ${path}: ${res.status} ${await res.text()}`);
    return res;
  };
  let bytes = 0;
  const manifestText = await (await get(`manifests/${ref}`, { Accept: ACCEPT })).text();
  bytes += manifestText.length;
  const manifest = JSON.parse(manifestText) as { config: { digest: string }; layers: { digest: string }[] };
  for (const d of [manifest.config, ...manifest.layers]) {
    const hasher = new Bun.CryptoHasher("sha256");
    for await (const chunk of (await get(`blobs/${d.digest}`)).body!) {
      hasher.update(chunk);
      bytes += chunk.byteLength;
    }
    if (`sha256:${hasher.digest("hex")}` !== d.digest) throw new Error(`${host}: blob ${d.digest} failed verification`);
  }
  return bytes;
}

const partitionOf = (node: number) => `v1--0.${node}.${ROWS - 1}.${node + 1}`;

/** All nodes at once against `host`: wall seconds and bytes the nodes received. */
async function round(host: string): Promise<{ seconds: number; nodeBytes: number }> {
  const started = performance.now();
  const got = await Promise.all(Array.from({ length: NODES }, (_, i) => pullNode(host, partitionOf(i))));
  return { seconds: (performance.now() - started) / 1000, nodeBytes: got.reduce((a, b) => a + b, 0) };
}

const work = await makeTempDir("2dfs-bench-edge-");
const stops: (() => Promise<void>)[] = [];
try {
  const splits = await writeSplits(join(work, "splits"), ROWS * COLS, MIB << 20);
  const allotments = splits.map((name, i) => ({ src: join(work, "splits", name), dst: `/model/${name}`, row: Math.floor(i / COLS), col: i % COLS }));
  await Bun.write(join(work, "a.json"), JSON.stringify({ allotments }));
  const store = join(work, "store");
  await tdfs(["build", "-t", "a:v1", "-f", join(work, "a.json"), "--store", store, "--quiet"]);
  const origin = await startTdfsServer(["--no-ui"]);
  stops.push(origin.stop);
  await tdfs(["push", "a:v1", `${origin.host}/${REPO}:v1`, "--store", store, "--quiet"]);

  const rows: Record<string, string | number>[] = [];
  const results: Record<string, unknown>[] = [];
  const measure = async (setup: string, host: string) => {
    for (const phase of ["cold", "warm"] as const) {
      if (setup === "direct" && phase === "warm") continue;
      const before = servedBytes(origin.logFile);
      const r = await round(host);
      // The access log is written as each response starts; give the last lines a moment.
      await Bun.sleep(200);
      const fromOrigin = servedBytes(origin.logFile) - before;
      results.push({ setup, phase, seconds: r.seconds, bytesFromOrigin: fromOrigin, bytesToNodes: r.nodeBytes });
      rows.push({
        setup,
        phase,
        "wall s": Math.round(r.seconds * 100) / 100,
        "MB from origin": Math.round(fromOrigin / 1e6),
        "MB to nodes": Math.round(r.nodeBytes / 1e6),
      });
    }
  };

  await measure("direct", origin.host);
  const edge = await startTdfsServer(["--no-ui", "--upstream", `http://${origin.host}`]);
  stops.push(edge.stop);
  await measure("2dfs edge", edge.host);
  if (hasTool("docker-registry")) {
    const proxy = await startDistribution({ proxyRemoteUrl: `http://${origin.host}` });
    stops.push(proxy.stop);
    await measure("distribution proxy", proxy.url);
  } else console.warn("docker-registry not installed: the distribution proxy row is skipped");

  const sizeNote = `${ROWS * COLS} x ${MIB} MiB allotments, ${NODES} nodes, columns i..i+1 of every row`;
  printTable(`Edge cache: ${sizeNote}`, rows);
  await writeResults("edge", { mib: MIB, rows: ROWS, cols: COLS, nodes: NODES, results });
  const cat = (r: Record<string, unknown>) => `${r.setup} ${r.phase}`;
  const svg = renderChart({
    title: `10 nodes pulling overlapping partitions (${sizeNote})`,
    xLabel: "setup and phase",
    yLabel: "MB from origin / wall s x 100",
    categories: results.map(cat),
    series: [
      { name: "MB from origin", values: results.map((r) => Math.round((r.bytesFromOrigin as number) / 1e6)) },
      { name: "wall time (s x 100)", values: results.map((r) => Math.round((r.seconds as number) * 100)) },
    ],
  });
  await Bun.write(join(import.meta.dir, "results", "edge.svg"), svg);
} finally {
  for (const stop of stops.reverse()) await stop().catch(() => {});
  await removeTempDir(work);
}
