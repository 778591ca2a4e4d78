/**
 * Experiment 2 (paper fig. 9): one 2dfs build holding every split vs the k Docker images
 * that k partitions would otherwise need (image j holds the splits of partition j).
 * Docker runs with its cache on, as a user would, from an empty cache at each repetition;
 * each image gets its own context of hard links, so Docker sends only the splits it copies.
 */
import { rm } from "node:fs/promises";
import { join } from "node:path";
import type { BenchContext } from "./context.ts";
import { repeatPasses, toTiming, type Timing } from "./stats.ts";
import { createSubContext, toGroups } from "./workload.ts";

/** Time of building everything k partitions need, per tool. */
export interface ManyImagesPoint {
  images: number;
  splits: number;
  bytes: number;
  /** One cold `2dfs build` of the whole field (the same work for every k: partitions are served, not built). */
  tdfs: Timing;
  /** Sum of the k `docker build`s, legacy builder. */
  legacy: Timing;
  /** Sum of the k `docker build`s, BuildKit. */
  buildkit: Timing;
}

/** Runs fig. 9 on the `fieldSplits` workload for each image count, in whole passes. */
export async function runManyImages(ctx: BenchContext): Promise<ManyImagesPoint[]> {
  const { runs, dockerRuns, budgets } = ctx.config;
  const w = await ctx.workload(ctx.config.fieldSplits);
  const store = join(ctx.work, "store-many");
  const root = join(ctx.work, "many");
  await ctx.tdfsBuild({ store, descriptor: w.descriptor, tag: "bench:v1" });
  const points: { k: number; contexts: string[]; tags: (kind: string) => string[]; tdfs: number[]; legacy: number[]; buildkit: number[] }[] = [];
  for (const k of ctx.config.imageCounts) {
    const contexts: string[] = [];
    for (const [j, names] of toGroups(w.names, k).entries()) contexts.push(await createSubContext(w, join(root, `k${k}`, `image-${j}`), names));
    const tags = (kind: string) => contexts.map((_, j) => `bench/part${j}:${kind}`);
    points.push({ k, contexts, tags, tdfs: [], legacy: [], buildkit: [] });
  }
  const allTags = [...new Set(points.flatMap((p) => [...p.tags("legacy"), ...p.tags("bk")]))];
  await repeatPasses(dockerRuns, budgets.manyImages, async (pass) => {
    for (const p of points) {
      for (let i = 0; i < (pass === 0 ? runs : 1); i++) {
        p.tdfs.push(await ctx.tdfsBuild({ store, descriptor: w.descriptor, tag: "bench:v1", noCache: true }));
      }
      for (const buildkit of [false, true]) {
        const kind = buildkit ? "bk" : "legacy";
        await ctx.dockerReset(allTags);
        let total = 0;
        for (const [j, dir] of p.contexts.entries()) total += await ctx.dockerBuild({ contextDir: dir, tag: p.tags(kind)[j]!, buildkit });
        (buildkit ? p.buildkit : p.legacy).push(total);
      }
      console.log(`many images k=${p.k}, pass ${pass + 1}: 2dfs ${Math.min(...p.tdfs).toFixed(3)} s, legacy ${p.legacy.at(-1)!.toFixed(2)} s, BuildKit ${p.buildkit.at(-1)!.toFixed(2)} s`);
    }
  });
  await ctx.dockerReset(allTags);
  await rm(root, { recursive: true, force: true });
  await rm(store, { recursive: true, force: true });
  return points.map((p) => ({ images: p.k, splits: w.names.length, bytes: w.totalBytes, tdfs: toTiming(p.tdfs), legacy: toTiming(p.legacy), buildkit: toTiming(p.buildkit) }));
}
