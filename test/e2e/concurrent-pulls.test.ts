/**
 * Many `2dfs pull` processes (the compiled binary when TDFS_BIN is set) sharing one store, at
 * once: every blob in the store must hash to its name, and every output must be a whole,
 * verified image. Two pulls once appended to one partial file and left blobs at 2-3x their size.
 */
import { afterAll, beforeAll, expect, test } from "bun:test";
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { run2dfs } from "../support/cli.ts";
import { seededBytes, writeTree } from "../support/temp.ts";
import { describeIfE2E, makeTempDir, removeTempDir, startTdfsServer, type TdfsServer } from "./support/index.ts";

const ROWS = 4;
const COLS = 4;
const CELL_BYTES = 1 << 20;
const PULLS = 20;
const ROUNDS = 10;

/** The partitions pulled in one round: overlapping rectangles, so many pulls want the same blobs at once. */
function partitions(): string[] {
  const out: string[] = [];
  for (let i = 0; out.length < PULLS; i++) {
    const r = i % (ROWS - 1);
    const c = Math.floor(i / (ROWS - 1)) % (COLS - 1);
    out.push(i % 5 === 4 ? "" : `--${r}.${c}.${r + 1}.${c + 1}`);
  }
  return out;
}

const sha256Hex = (bytes: Uint8Array) => new Bun.CryptoHasher("sha256").update(bytes).digest("hex");

/** Names of the blobs in `layout` whose content does not hash to their name. */
function corruptBlobs(layout: string): string[] {
  const dir = join(layout, "blobs", "sha256");
  return readdirSync(dir).filter((hex) => sha256Hex(readFileSync(join(dir, hex))) !== hex);
}

/** Checks an OCI layout written by `pull --format oci`: every blob verifies, and the manifest's blobs are all there with their sizes. */
function verifyLayout(layout: string): void {
  expect({ layout, corrupt: corruptBlobs(layout) }).toEqual({ layout, corrupt: [] });
  const blob = (digest: string) => readFileSync(join(layout, "blobs", "sha256", digest.slice("sha256:".length)));
  const index = JSON.parse(readFileSync(join(layout, "index.json"), "utf8"));
  const manifest = JSON.parse(blob(index.manifests[0].digest).toString());
  for (const d of [manifest.config, ...manifest.layers]) expect({ digest: d.digest, size: blob(d.digest).byteLength }).toEqual({ digest: d.digest, size: d.size });
}

describeIfE2E("concurrent pulls into one store (e2e)", [], () => {
  let dir: string;
  let server: TdfsServer;
  const image = () => `${server.host}/conc/field:v1`;

  beforeAll(async () => {
    dir = await makeTempDir("2dfs-e2e-concurrent-");
    server = await startTdfsServer();
    const allotments: object[] = [];
    const files: Record<string, Uint8Array | string> = {};
    for (let r = 0; r < ROWS; r++) {
      for (let c = 0; c < COLS; c++) {
        files[`ctx/cell-${r}-${c}.bin`] = seededBytes(CELL_BYTES, 1 + r * COLS + c);
        allotments.push({ src: `cell-${r}-${c}.bin`, dst: `/cells/${r}-${c}.bin`, row: r, col: c });
      }
    }
    files["ctx/2dfs.json"] = JSON.stringify({ allotments });
    await writeTree(dir, files);
    const build = await run2dfs(["build", "-t", "conc/field:v1", "-f", join(dir, "ctx", "2dfs.json"), "--compression", "none", "--store", join(dir, "build-store")]);
    expect(build.stderr).toContain("built");
    const push = await run2dfs(["push", "conc/field:v1", image(), "--store", join(dir, "build-store")]);
    expect(push.code).toBe(0);
  });
  afterAll(async () => {
    await server?.stop();
    await removeTempDir(dir);
  });

  test(`${PULLS} pulls of overlapping partitions into one store, ${ROUNDS} rounds: every blob verifies, every output is whole`, async () => {
    for (let round = 0; round < ROUNDS; round++) {
      const store = join(dir, `store-${round}`);
      const results = await Promise.all(
        partitions().map(async (suffix, i) => {
          // Every fifth pull writes files, the others an OCI layout.
          const format = suffix === "" ? "files" : "oci";
          const out = join(dir, `out-${round}-${i}`);
          const r = await run2dfs(["pull", `${image()}${suffix}`, "-o", out, "--format", format, "--store", store, "--quiet"]);
          return { suffix, format, out, code: r.code, stderr: r.stderr };
        }),
      );
      for (const r of results) expect({ suffix: r.suffix, code: r.code, stderr: r.stderr }).toEqual({ suffix: r.suffix, code: 0, stderr: "" });
      expect({ round, corrupt: corruptBlobs(store) }).toEqual({ round, corrupt: [] });
      // No partial download is left behind by a pull that succeeded.
      expect(readdirSync(join(store, ".2dfs", "partial"))).toEqual([]);
      for (const r of results) {
        if (r.format === "oci") verifyLayout(r.out);
        else {
          for (let row = 0; row < ROWS; row++) {
            for (let col = 0; col < COLS; col++) {
              const bytes = readFileSync(join(r.out, "cells", `${row}-${col}.bin`));
              expect(sha256Hex(bytes)).toBe(sha256Hex(seededBytes(CELL_BYTES, 1 + row * COLS + col)));
            }
          }
        }
      }
    }
  });

  test("pulls, builds and pushes at once on one store: nothing is lost from index.json, every blob verifies", async () => {
    const store = join(dir, "store-mixed");
    const built = await run2dfs(["build", "-t", "conc/field:v1", "-f", join(dir, "ctx", "2dfs.json"), "--compression", "none", "--store", store, "--quiet"]);
    expect(built.code).toBe(0);
    const jobs = [
      ...partitions().slice(0, 10).map((suffix, i) => ["pull", `${image()}${suffix}`, "-o", join(dir, `mixed-out-${i}`), "--format", "oci"]),
      // Each build also writes new layers: a different compression gives other blobs for the same files.
      ...[0, 1, 2, 3, 4].map((i) => ["build", "-t", `conc/built:t${i}`, "-f", join(dir, "ctx", "2dfs.json"), "--compression", i % 2 ? "gzip" : "none"]),
      ...[0, 1, 2].map((i) => ["push", "conc/field:v1", `${server.host}/conc/pushed-${i}:v1`]),
    ];
    const results = await Promise.all(jobs.map((args) => run2dfs([...args, "--store", store, "--quiet"])));
    results.forEach((r, i) => expect({ job: jobs[i]!.join(" "), code: r.code, stderr: r.stderr }).toEqual({ job: jobs[i]!.join(" "), code: 0, stderr: "" }));
    expect(corruptBlobs(store)).toEqual([]);
    const names = JSON.parse(readFileSync(join(store, "index.json"), "utf8")).manifests.map((d: { annotations: Record<string, string> }) => d.annotations["org.opencontainers.image.ref.name"]);
    expect(names.sort()).toEqual(["conc/built:t0", "conc/built:t1", "conc/built:t2", "conc/built:t3", "conc/built:t4", "conc/field:v1"]);
    for (const i of [0, 1, 2]) {
      const res = await fetch(`http://${server.host}/v2/conc/pushed-${i}/manifests/v1`, { method: "HEAD", headers: { Accept: "application/vnd.oci.image.manifest.v1+json" } });
      expect(res.status).toBe(200);
    }
  });

  test("a blob in the store that is not whole is not taken as cached: it is fetched again and repaired", async () => {
    const store = join(dir, "store-repair");
    const first = await run2dfs(["pull", `${image()}--0.0.0.0`, "-o", join(dir, "repair-1"), "--format", "oci", "--store", store, "--quiet"]);
    expect(first.code).toBe(0);
    const manifest = JSON.parse(readFileSync(join(dir, "repair-1", "blobs", "sha256", JSON.parse(readFileSync(join(dir, "repair-1", "index.json"), "utf8")).manifests[0].digest.slice(7))).toString());
    const layer = join(store, "blobs", "sha256", manifest.layers.at(-1).digest.slice(7));
    // As two writers appending to one file once left it: the blob twice over under its name.
    const whole = readFileSync(layer);
    Bun.spawnSync(["sh", "-c", `cat "${layer}" >> "${layer}.x" && cat "${layer}" >> "${layer}.x" && mv "${layer}.x" "${layer}"`]);
    expect(readFileSync(layer).byteLength).toBe(2 * whole.byteLength);
    const again = await run2dfs(["pull", `${image()}--0.0.0.0`, "-o", join(dir, "repair-2"), "--format", "oci", "--store", store, "--json"]);
    expect(again.code).toBe(0);
    expect(again.stdout).toContain(`"downloaded"`);
    // The "pulled" event always has a downloaded count: the broken layer is the one blob fetched again.
    const pulled = again.stdout.trim().split("\n").map((l) => JSON.parse(l)).find((e) => e.event === "pulled");
    expect(pulled?.downloaded).toBe(1);
    expect(corruptBlobs(store)).toEqual([]);
    verifyLayout(join(dir, "repair-2"));
  });
});
