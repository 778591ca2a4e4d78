/**
 * Experiment 4 (paper figs. 11-13): `docker pull` of a partition served by `2dfs serve` vs
 * `docker pull` of a prebuilt image with the same layers (base + the selected splits) from
 * the distribution registry. The prebuilt image is built by `2dfs build` from a 2dfs.json of
 * just those splits and pushed with `2dfs push`, so both pulls move byte-identical layers
 * (checked: `sameLayers`); the only difference is the registry and the partitioning.
 */
import { rm } from "node:fs/promises";
import { join } from "node:path";
import { startDistribution, SYSTEM_PATH, type DistributionHandle } from "../../test/e2e/support/index.ts";
import { tdfs, timeCommand } from "../lib/tools.ts";
import { bytesSentSince, logOffset } from "./access-log.ts";
import type { BenchContext } from "./context.ts";
import { fetchImageManifest, toPullBytes } from "./fetch-manifest.ts";
import { toTiming, type Timing } from "./stats.ts";
import { startTdfsServe, type TdfsServeHandle } from "./tdfs-serve.ts";
import { writeDescriptor } from "./workload.ts";

/** Pull times and bytes for one partition size. */
export interface PullPoint {
  splits: number;
  ref2dfs: string;
  refPrebuilt: string;
  sameLayers: boolean;
  layers: number;
  /** Config + layers, from the manifests. */
  manifestBytes: { tdfs: number; prebuilt: number };
  /** Bytes of successful GETs in each server's access log, per pull (last repetition). */
  bytesSent: { tdfs: number; prebuilt: number };
  tdfs: Timing;
  prebuilt: Timing;
}

/** Pushes the field and the prebuilt images, then pulls each partition size side by side. */
export async function runPull(ctx: BenchContext): Promise<{ push2dfs: number; points: PullPoint[] }> {
  const w = await ctx.workload(ctx.config.fieldSplits);
  const store = join(ctx.work, "store-pull");
  let serve: TdfsServeHandle | undefined;
  let dist: DistributionHandle | undefined;
  try {
    serve = await startTdfsServe(join(ctx.work, "serve"));
    dist = await startDistribution();
    await ctx.tdfsBuild({ store, descriptor: w.descriptor, tag: "model:v1" });
    const t = performance.now();
    await tdfs(["push", "model:v1", `${serve.url}/bench/model:v1`, "--store", store, "--quiet"]);
    const push2dfs = (performance.now() - t) / 1000;
    const points: PullPoint[] = [];
    for (const k of ctx.config.pullSplits) {
      const descriptor = join(w.dir, `2dfs-first-${k}.json`);
      await writeDescriptor(descriptor, w.names.slice(0, k).map((name, col) => ({ name, col })));
      await ctx.tdfsBuild({ store, descriptor, tag: `prebuilt:k${k}` });
      await tdfs(["push", `prebuilt:k${k}`, `${dist.url}/bench/prebuilt:k${k}`, "--store", store, "--quiet"]);
      const tag = `v1--0.0.0.${k - 1}`;
      const a = await fetchImageManifest(serve.url, "bench/model", tag);
      const b = await fetchImageManifest(dist.url, "bench/prebuilt", `k${k}`);
      const digests = (m: typeof a) => m.manifest.layers.map((l) => l.digest).join(",");
      const ref2dfs = `${serve.url}/bench/model:${tag}`;
      const refPrebuilt = `${dist.url}/bench/prebuilt:k${k}`;
      const times = { tdfs: [] as number[], prebuilt: [] as number[] };
      const bytesSent = { tdfs: 0, prebuilt: 0 };
      const targets = [
        { key: "tdfs" as const, ref: ref2dfs, log: serve.logFile },
        { key: "prebuilt" as const, ref: refPrebuilt, log: dist.logFile },
      ];
      for (let r = 0; r < ctx.config.pullRuns; r++) {
        // Alternate who goes first so neither side always pulls right after the other's disk writes.
        for (const target of r % 2 ? [...targets].reverse() : targets) {
          await ctx.docker(["image", "rm", "-f", ref2dfs, refPrebuilt]).catch(() => "");
          await ctx.docker(["image", "prune", "-f"]);
          const offset = await logOffset(target.log);
          times[target.key].push(
            await timeCommand("/usr/bin/docker", ["pull", "-q", target.ref], { env: { ...ctx.dockerd.env, PATH: SYSTEM_PATH } }),
          );
          await Bun.sleep(100); // let the server flush its access-log line
          bytesSent[target.key] = (await bytesSentSince(target.log, offset)).bytes;
        }
      }
      await ctx.docker(["image", "rm", "-f", ref2dfs, refPrebuilt]).catch(() => "");
      const p: PullPoint = {
        splits: k,
        ref2dfs,
        refPrebuilt,
        sameLayers: digests(a) === digests(b),
        layers: a.manifest.layers.length,
        manifestBytes: { tdfs: toPullBytes(a.manifest), prebuilt: toPullBytes(b.manifest) },
        bytesSent,
        tdfs: toTiming(times.tdfs),
        prebuilt: toTiming(times.prebuilt),
      };
      console.log(
        `pull ${k} splits: 2dfs partition ${p.tdfs.median.toFixed(3)} s (${bytesSent.tdfs} B), prebuilt ${p.prebuilt.median.toFixed(3)} s (${bytesSent.prebuilt} B), same layers: ${p.sameLayers}`,
      );
      points.push(p);
    }
    return { push2dfs, points };
  } finally {
    await serve?.stop();
    await dist?.stop();
    await rm(store, { recursive: true, force: true });
    await rm(join(ctx.work, "serve"), { recursive: true, force: true });
  }
}
