/** Experiment 1 (paper fig. 8): one image from a growing number of splits, cold; `2dfs build` vs `docker build` (legacy and BuildKit, one COPY per split). */
import { rm } from "node:fs/promises";
import { join } from "node:path";
import type { BenchContext } from "./context.ts";
import { repeatPasses, toTiming, type Timing } from "./stats.ts";
import type { Workload } from "./workload.ts";

/** Cold build times for one split count. */
export interface BuildPoint {
  splits: number;
  bytes: number;
  tdfs: Timing;
  legacy: Timing;
  buildkit: Timing;
}

const TAGS = ["bench:legacy", "bench:bk"];

/**
 * Builds each workload cold (`--no-cache` on both sides, the base already present on both
 * sides), the three builders one after the other per point, in whole passes over the split counts.
 */
export async function runBuild(ctx: BenchContext): Promise<BuildPoint[]> {
  const { runs, dockerRuns, budgets } = ctx.config;
  const points: { n: number; w: Workload; store: string; tdfs: number[]; legacy: number[]; buildkit: number[] }[] = [];
  for (const n of ctx.config.splitCounts) {
    const w = await ctx.workload(n);
    const store = join(ctx.work, `store-build-${n}`);
    // Imports the base into the store, as dockerd has it loaded; untimed.
    await ctx.tdfsBuild({ store, descriptor: w.descriptor, tag: "bench:v1" });
    points.push({ n, w, store, tdfs: [], legacy: [], buildkit: [] });
  }
  await repeatPasses(dockerRuns, budgets.build, async (pass) => {
    for (const p of points) {
      // 2dfs is cheap: all its repetitions in the first pass, one more per later pass.
      for (let i = 0; i < (pass === 0 ? runs : 1); i++) {
        p.tdfs.push(await ctx.tdfsBuild({ store: p.store, descriptor: p.w.descriptor, tag: "bench:v1", noCache: true }));
      }
      await ctx.dockerReset(TAGS);
      p.legacy.push(await ctx.dockerBuild({ contextDir: p.w.dir, tag: TAGS[0]!, buildkit: false, noCache: true }));
      p.buildkit.push(await ctx.dockerBuild({ contextDir: p.w.dir, tag: TAGS[1]!, buildkit: true, noCache: true }));
      console.log(`build ${p.n} splits, pass ${pass + 1}: 2dfs ${Math.min(...p.tdfs).toFixed(3)} s, legacy ${p.legacy.at(-1)!.toFixed(2)} s, BuildKit ${p.buildkit.at(-1)!.toFixed(2)} s`);
    }
  });
  await ctx.dockerReset(TAGS);
  for (const p of points) await rm(p.store, { recursive: true, force: true });
  return points.map((p) => ({ splits: p.n, bytes: p.w.totalBytes, tdfs: toTiming(p.tdfs), legacy: toTiming(p.legacy), buildkit: toTiming(p.buildkit) }));
}
