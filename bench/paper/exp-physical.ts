/** Experiment 6, the physical limit: a plain `cp` and a plain `sha256sum` of the same split files a build reads. */
import { rm } from "node:fs/promises";
import { join } from "node:path";
import { timeCommand } from "../lib/tools.ts";
import type { BenchContext } from "./context.ts";
import { repeat, type Timing } from "./stats.ts";
import type { Workload } from "./workload.ts";

/** What copying and hashing the bytes of one workload cost. */
export interface PhysicalResult {
  splits: number;
  bytes: number;
  cp: Timing;
  sha256sum: Timing;
}

/** Times `cp` of the splits into a fresh folder and `sha256sum` of them (page cache warm, like the builds). */
export async function measurePhysical(ctx: BenchContext, w: Workload): Promise<PhysicalResult> {
  const files = w.names.map((n) => join(w.dir, n));
  const dest = join(ctx.work, "physical-copy");
  const cp = await repeat(ctx.config.runs, async () => {
    await rm(dest, { recursive: true, force: true });
    await timeCommand("mkdir", ["-p", dest]);
    return timeCommand("cp", [...files, dest]);
  });
  await rm(dest, { recursive: true, force: true });
  const sha256sum = await repeat(ctx.config.runs, () => timeCommand("sha256sum", files));
  return { splits: w.names.length, bytes: w.totalBytes, cp, sha256sum };
}

/** Runs the physical limit for every split count of the build experiment. */
export async function runPhysical(ctx: BenchContext): Promise<PhysicalResult[]> {
  const out: PhysicalResult[] = [];
  for (const n of ctx.config.splitCounts) {
    const r = await measurePhysical(ctx, await ctx.workload(n));
    console.log(`physical ${n} splits: cp ${r.cp.min.toFixed(3)} s, sha256sum ${r.sha256sum.min.toFixed(3)} s`);
    out.push(r);
  }
  return out;
}
