/** Shared output of the benches: an aligned table on stdout and a JSON record under bench/results/. */
import { mkdir } from "node:fs/promises";
import { availableParallelism, cpus } from "node:os";
import { join } from "node:path";

/** Prints `rows` as an aligned text table under `title` (columns from the first row's keys, numbers right-aligned). */
export function printTable(title: string, rows: Record<string, string | number>[]): void {
  console.log(`\n${title}`);
  if (rows.length === 0) return console.log("(no rows)");
  const cols = [...new Set(rows.flatMap((r) => Object.keys(r)))];
  const cell = (v: string | number | undefined) => (v === undefined ? "" : String(v));
  const widths = cols.map((c) => Math.max(c.length, ...rows.map((r) => cell(r[c]).length)));
  const line = (values: (string | number | undefined)[]) =>
    values.map((v, i) => (typeof v === "number" ? cell(v).padStart(widths[i]!) : cell(v).padEnd(widths[i]!))).join("  ");
  console.log(line(cols));
  console.log(widths.map((w) => "-".repeat(w)).join("  "));
  for (const r of rows) console.log(line(cols.map((c) => r[c])));
}

/** Writes `data` with the machine and runtime to bench/results/<name>.json. */
export async function writeResults(name: string, data: unknown): Promise<void> {
  const dir = join(import.meta.dir, "..", "results");
  await mkdir(dir, { recursive: true });
  const record = {
    name,
    date: new Date().toISOString(),
    bun: Bun.version,
    cpu: cpus()[0]?.model ?? "unknown",
    cores: availableParallelism(),
    data,
  };
  await Bun.write(join(dir, `${name}.json`), `${JSON.stringify(record, null, 2)}\n`);
}

/** Runs `fn` `runs` times (after an untimed `setup` each time) and returns the fastest wall time in seconds (other processes only ever slow a run down). */
export async function bestOf(runs: number, fn: () => Promise<unknown> | unknown, setup?: () => Promise<unknown> | unknown): Promise<number> {
  let best = Infinity;
  for (let i = 0; i < runs; i++) {
    await setup?.();
    const t = performance.now();
    await fn();
    best = Math.min(best, (performance.now() - t) / 1000);
  }
  return best;
}

/** MB/s (10^6 bytes): one decimal below 100, whole numbers above. */
export function mbps(bytes: number, seconds: number): number {
  const v = bytes / 1e6 / seconds;
  return v >= 100 ? Math.round(v) : Math.round(v * 10) / 10;
}
