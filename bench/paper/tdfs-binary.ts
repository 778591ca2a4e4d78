/**
 * The 2dfs binary the bench times: a copy of dist/2dfs taken at the start (so a rebuild of
 * dist/ during the run cannot swap binaries mid-measurement), else one compiled into the
 * run's work dir (what users run), else bun + src/cli.ts. An explicit TDFS_BIN wins.
 */
import { existsSync } from "node:fs";
import { copyFile, mkdir } from "node:fs/promises";
import { join } from "node:path";
import { run } from "../../test/e2e/support/index.ts";
import { tdfsCommand } from "../lib/tools.ts";

const ROOT = join(import.meta.dir, "..", "..");

/** How 2dfs is invoked in this run, for the report. */
export interface TdfsBinary {
  command: string[];
  kind: "TDFS_BIN" | "dist/2dfs (copied at start)" | "compiled from src for this run" | "bun src/cli.ts";
}

/** Points TDFS_BIN (which tools.ts reads) at a private compiled binary when possible, and says which. */
export async function prepareTdfsBinary(workDir: string): Promise<TdfsBinary> {
  if (process.env.TDFS_BIN && existsSync(process.env.TDFS_BIN)) return { command: tdfsCommand(), kind: "TDFS_BIN" };
  const out = join(workDir, "bin", "2dfs");
  await mkdir(join(workDir, "bin"), { recursive: true });
  const dist = join(ROOT, "dist", "2dfs");
  if (existsSync(dist)) {
    await copyFile(dist, out);
    process.env.TDFS_BIN = out;
    return { command: tdfsCommand(), kind: "dist/2dfs (copied at start)" };
  }
  // Worker files must be extra entry points of a compiled binary (see perf-baseline.md).
  const r = await run(process.execPath, ["build", "--compile", "--minify", "./src/cli.ts", "./wasm/hash-worker.ts", "./wasm/receive-worker.ts", "--outfile", out], {
    cwd: ROOT,
    timeoutMs: 180_000,
  });
  if (r.code === 0 && existsSync(out)) {
    process.env.TDFS_BIN = out;
    return { command: tdfsCommand(), kind: "compiled from src for this run" };
  }
  console.warn(`bench: could not compile 2dfs (${r.stderr.trim().slice(-500)}); timing bun src/cli.ts instead`);
  return { command: tdfsCommand(), kind: "bun src/cli.ts" };
}
