/** What the benches share: the 2dfs command to time, model-like data, timing of commands. */
import { existsSync } from "node:fs";
import { mkdir, open } from "node:fs/promises";
import { join } from "node:path";
import { run, runOk, type RunOptions } from "../../test/e2e/support/index.ts";

const ROOT = join(import.meta.dir, "..", "..");

/** The compiled binary when built (what users run), else bun + src/cli.ts. */
export function tdfsCommand(): string[] {
  const bin = process.env.TDFS_BIN ?? join(ROOT, "dist", "2dfs");
  return existsSync(bin) ? [bin] : [process.execPath, join(ROOT, "src", "cli.ts")];
}

/** Runs 2dfs and fails loudly on a non-zero exit. */
export async function tdfs(args: string[], opts?: RunOptions): Promise<string> {
  const [cmd, ...pre] = tdfsCommand();
  return (await runOk(cmd!, [...pre, ...args], { timeoutMs: 600_000, ...opts })).stdout;
}

/** Wall time of a command in seconds; throws when it fails. */
export async function timeCommand(cmd: string, args: string[], opts?: RunOptions): Promise<number> {
  const t = performance.now();
  const r = await run(cmd, args, { timeoutMs: 900_000, ...opts });
  if (r.code !== 0) throw new Error(`${cmd} ${args.join(" ")} failed (${r.code}): ${r.stderr.slice(-2000)}`);
  return (performance.now() - t) / 1000;
}

/** Writes `count` files of `bytes` each of random float32-like data (incompressible, like weights). */
export async function writeSplits(dir: string, count: number, bytes: number, prefix = "split"): Promise<string[]> {
  await mkdir(dir, { recursive: true });
  const names: string[] = [];
  for (let i = 0; i < count; i++) {
    const name = `${prefix}${String(i).padStart(3, "0")}.bin`;
    await writeRandomFile(join(dir, name), bytes);
    names.push(name);
  }
  return names;
}

/** Overwrites a file with fresh random data of the same size. */
export async function writeRandomFile(path: string, bytes: number): Promise<void> {
  const chunk = new Uint8Array(4 << 20);
  const fh = await open(path, "w");
  try {
    for (let done = 0; done < bytes; ) {
      const n = Math.min(chunk.length, bytes - done);
      for (let o = 0; o < n; o += 65536) crypto.getRandomValues(chunk.subarray(o, Math.min(o + 65536, n)));
      await fh.write(chunk, 0, n);
      done += n;
    }
  } finally {
    await fh.close();
  }
}

/** Minimum of `runs` timings (other processes only ever slow a run down) and the median. */
export async function minMedian(runs: number, fn: () => Promise<number>): Promise<{ min: number; median: number; all: number[] }> {
  const all: number[] = [];
  for (let i = 0; i < runs; i++) all.push(await fn());
  const sorted = [...all].sort((a, b) => a - b);
  return { min: sorted[0]!, median: sorted[Math.floor(sorted.length / 2)]!, all };
}

/** Seconds to 3 significant digits, for tables. */
export function secs(v: number): number {
  return Number(v.toPrecision(3));
}

/** a / b to 1 decimal place. */
export function ratio(a: number, b: number): number {
  return Math.round((a / b) * 10) / 10;
}
