/**
 * Experiment 5: the registry, hashing and compression benches written beside this one
 * (bench/registry.ts, hash.ts, compress.ts) are top-level scripts, so they run as
 * subprocesses and their JSON is collected from bench/results/.
 */
import { readFile, stat } from "node:fs/promises";
import { join } from "node:path";
import { run } from "../../test/e2e/support/index.ts";
import type { BenchContext } from "./context.ts";

const BENCH = join(import.meta.dir, "..");

/** Outcome of one sub-bench: its JSON record (as it wrote it) or why it failed. */
export interface SubBenchResult {
  name: string;
  ok: boolean;
  seconds: number;
  /** The `data` of bench/results/<name>.json written by this run. */
  data?: unknown;
  error?: string;
}

/** Runs `bun bench/<name>.ts` and reads bench/results/<name>.json, accepting it only if written during this run. */
export async function runSubBench(ctx: BenchContext, name: string): Promise<SubBenchResult> {
  const started = Date.now();
  const r = await run(process.execPath, [join(BENCH, `${name}.ts`)], {
    env: ctx.config.subBenchEnv,
    timeoutMs: 600_000,
  }).catch((e: Error) => ({ code: -1, stdout: "", stderr: e.message }));
  const seconds = (Date.now() - started) / 1000;
  if (r.code !== 0) return { name, ok: false, seconds, error: `exit ${r.code}: ${r.stderr.trim().slice(-1500)}` };
  const file = join(BENCH, "results", `${name}.json`);
  const written = await stat(file).catch(() => undefined);
  if (!written || written.mtimeMs < started) return { name, ok: false, seconds, error: `${file} was not written by this run` };
  const record = JSON.parse(await readFile(file, "utf8")) as { data?: unknown };
  return { name, ok: true, seconds, data: record.data };
}

/** Runs the registry, hash and (at full scale, time permitting) compression benches in turn. */
export async function runRegistryBenches(ctx: BenchContext): Promise<SubBenchResult[]> {
  const out: SubBenchResult[] = [];
  for (const name of ["registry", "hash", "compress"]) {
    // performance.now() counts from the start of this process, i.e. of the run.
    if (name === "compress" && (!ctx.config.compress || performance.now() / 1000 > ctx.config.compressDeadline)) {
      out.push({ name, ok: false, seconds: 0, error: ctx.config.compress ? "skipped: the run was past its time budget" : "skipped at this scale" });
      continue;
    }
    const r = await runSubBench(ctx, name);
    console.log(`${name} bench: ${r.ok ? "ok" : `FAILED ${r.error}`} (${r.seconds.toFixed(1)} s)`);
    out.push(r);
  }
  return out;
}
