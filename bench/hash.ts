/** SHA-256: hash-wasm vs native (Bun.CryptoHasher), on the main thread and in a pool of 2 workers, same data. */
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createSha256, type HashEngine } from "../src/hash/sha256.ts";
import { hashFile } from "../src/hash/hash-file.ts";
import { createWorkerPool } from "../src/hash/pool.ts";
import { bestOf, mbps, printTable, writeResults } from "./lib/table.ts";

const TOTAL = 256 << 20;
const CHUNK = 8 << 20;
const RUNS = 3;

const dir = await mkdtemp(join(tmpdir(), "2dfs-bench-hash-"));
// Two halves on disk so two workers hash two files at once; the page cache holds them after the first run.
const halves = [join(dir, "a.bin"), join(dir, "b.bin")];
const data = new Uint8Array(TOTAL);
for (let i = 0; i < TOTAL; i += 65536) crypto.getRandomValues(data.subarray(i, i + 65536));
await Bun.write(halves[0]!, data.subarray(0, TOTAL / 2));
await Bun.write(halves[1]!, data.subarray(TOTAL / 2));

const rows: Record<string, string | number>[] = [];
const results: Record<string, number> = {};
for (const engine of ["native", "wasm"] as HashEngine[]) {
  const memory = await bestOf(RUNS, async () => {
    const h = await createSha256(engine);
    for (let i = 0; i < TOTAL; i += CHUNK) h.update(data.subarray(i, i + CHUNK));
    h.digest();
  });
  const files = await bestOf(RUNS, async () => {
    for (const f of halves) await hashFile(f, engine);
  });
  const pool = createWorkerPool({ workers: 2, engine });
  await Promise.all(halves.map((f) => pool.hashFile(f))); // start the workers and warm up
  const parallel = await bestOf(RUNS, () => Promise.all(halves.map((f) => pool.hashFile(f))));
  await pool.close();
  results[`${engine}.memory`] = mbps(TOTAL, memory);
  results[`${engine}.files`] = mbps(TOTAL, files);
  results[`${engine}.pool2`] = mbps(TOTAL, parallel);
  rows.push({ engine, "main, in memory MB/s": mbps(TOTAL, memory), "main, hashFile MB/s": mbps(TOTAL, files), "2 workers, 2 files MB/s (total)": mbps(TOTAL, parallel) });
}
for (const key of ["memory", "files", "pool2"]) results[`ratio.${key}`] = Math.round((results[`native.${key}`]! / results[`wasm.${key}`]!) * 10) / 10;
rows.push({
  engine: "native / wasm",
  "main, in memory MB/s": `${results["ratio.memory"]}x`,
  "main, hashFile MB/s": `${results["ratio.files"]}x`,
  "2 workers, 2 files MB/s (total)": `${results["ratio.pool2"]}x`,
});
printTable(`SHA-256 over ${TOTAL >> 20} MiB of random bytes (best of ${RUNS})`, rows);
await writeResults("hash", results);
await rm(dir, { recursive: true, force: true });
