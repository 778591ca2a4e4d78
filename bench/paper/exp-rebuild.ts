/**
 * Experiment 3 (paper fig. 14): rebuild after changing a share of the splits, warm caches on
 * both sides. Changing the first splits is Docker's worst case (every later COPY layer is
 * rebuilt); changing the last ones its best.
 */
import { join } from "node:path";
import { timeCommand, writeRandomFile } from "../lib/tools.ts";
import type { BenchContext } from "./context.ts";
import { repeatPasses, toTiming, type Timing } from "./stats.ts";

/** Rebuild times for one (share, position). */
export interface RebuildPoint {
  share: number;
  position: "first" | "last";
  changedSplits: number;
  splits: number;
  /** Whether the changed bytes were flushed (sync) before timing; runs before this existed did not. */
  flushed?: boolean;
  tdfs: Timing;
  legacy: Timing;
  buildkit: Timing;
}

const TAGS = ["bench:rb-legacy", "bench:rb-bk"];

/** Runs fig. 14 on the `rebuildSplits` workload; its files are rewritten, so run it after the experiments that read them. */
export async function runRebuild(ctx: BenchContext): Promise<RebuildPoint[]> {
  const { runs, dockerRuns, budgets } = ctx.config;
  const w = await ctx.workload(ctx.config.rebuildSplits);
  const store = join(ctx.work, "store-rebuild");
  await ctx.dockerReset(TAGS);
  // Warm every side on the current content.
  await ctx.tdfsBuild({ store, descriptor: w.descriptor, tag: "bench:v1" });
  await ctx.dockerBuild({ contextDir: w.dir, tag: TAGS[0]!, buildkit: false });
  await ctx.dockerBuild({ contextDir: w.dir, tag: TAGS[1]!, buildkit: true });
  const points = (["first", "last"] as const).flatMap((position) =>
    ctx.config.updateShares.map((share) => {
      const m = Math.max(1, Math.round(share * w.names.length));
      const changed = position === "first" ? w.names.slice(0, m) : w.names.slice(w.names.length - m);
      return { share, position, m, changed, tdfs: [] as number[], legacy: [] as number[], buildkit: [] as number[] };
    }),
  );
  await repeatPasses(dockerRuns, budgets.rebuild, async (pass) => {
    for (const p of points) {
      const change = async () => {
        for (const n of p.changed) await writeRandomFile(join(w.dir, n), w.splitBytes);
        // Flush the new bytes now, untimed: otherwise whichever tool runs first pays for the write-back.
        await timeCommand("sync", []);
      };
      // 2dfs-only repetitions first; the last repetition is side by side, so every tool's
      // cache holds the current content before the next point changes other splits.
      for (let i = 0; i < (pass === 0 ? runs - 1 : 0); i++) {
        await change();
        p.tdfs.push(await ctx.tdfsBuild({ store, descriptor: w.descriptor, tag: "bench:v1" }));
      }
      await change();
      p.tdfs.push(await ctx.tdfsBuild({ store, descriptor: w.descriptor, tag: "bench:v1" }));
      p.legacy.push(await ctx.dockerBuild({ contextDir: w.dir, tag: TAGS[0]!, buildkit: false }));
      p.buildkit.push(await ctx.dockerBuild({ contextDir: w.dir, tag: TAGS[1]!, buildkit: true }));
      console.log(`rebuild ${p.share * 100}% ${p.position}, pass ${pass + 1}: 2dfs ${p.tdfs.at(-1)!.toFixed(3)} s, legacy ${p.legacy.at(-1)!.toFixed(2)} s, BuildKit ${p.buildkit.at(-1)!.toFixed(2)} s`);
    }
    // Replaced images pile up as dangling layers; they are not part of the cache the next build uses.
    await ctx.docker(["image", "prune", "-f"]);
  });
  await ctx.dockerReset(TAGS);
  return points.map((p) => ({
    share: p.share,
    position: p.position,
    changedSplits: p.m,
    splits: w.names.length,
    flushed: true,
    tdfs: toTiming(p.tdfs),
    legacy: toTiming(p.legacy),
    buildkit: toTiming(p.buildkit),
  }));
}
