/** The resources every experiment shares: a work dir, a private dockerd with the busybox base loaded, the same base as an OCI layout for 2dfs, and timed build helpers. */
import { rm } from "node:fs/promises";
import { join } from "node:path";
import {
  makeBusyboxBase,
  makeTempDir,
  removeTempDir,
  skopeo,
  startDockerd,
  SYSTEM_PATH,
  type DockerdHandle,
} from "../../test/e2e/support/index.ts";
import { tdfs, timeCommand } from "../lib/tools.ts";
import type { BenchConfig } from "./config.ts";
import { prepareTdfsBinary, type TdfsBinary } from "./tdfs-binary.ts";
import { createWorkload, type Workload } from "./workload.ts";

/** Shared state of one bench run. */
export interface BenchContext {
  config: BenchConfig;
  work: string;
  dockerd: DockerdHandle;
  tdfsBinary: TdfsBinary;
  /** `oci:DIR:TAG` of the busybox base, for `2dfs build --base`. */
  baseRef: string;
  /** The workload with `count` splits (created once, then reused). */
  workload(count: number): Promise<Workload>;
  /** Times `2dfs build --compression none` into `store`. */
  tdfsBuild(opts: { store: string; descriptor: string; tag: string; noCache?: boolean }): Promise<number>;
  /** Times `docker build` of `contextDir` (legacy builder or BuildKit). */
  dockerBuild(opts: { contextDir: string; tag: string; buildkit: boolean; noCache?: boolean }): Promise<number>;
  /** Runs the Debian docker client against our dockerd and throws on failure. */
  docker(args: string[], env?: Record<string, string>): Promise<string>;
  /** Removes the given images and all build cache, leaving busybox:bench loaded. */
  dockerReset(tags: string[]): Promise<void>;
  /** Stops dockerd and deletes the work dir. */
  close(): Promise<void>;
}

/** Starts dockerd, writes and loads the busybox base, and compiles 2dfs; everything on 127.0.0.1 or unix sockets. */
export async function createBenchContext(config: BenchConfig): Promise<BenchContext> {
  const work = await makeTempDir("bench-paper");
  let dockerd: DockerdHandle | undefined;
  try {
    const tdfsBinary = await prepareTdfsBinary(work);
    dockerd = await startDockerd();
    const busybox = await makeBusyboxBase(join(work, "base"));
    const archive = join(work, "busybox.tar");
    const copied = await skopeo(["copy", `oci:${busybox.layoutDir}:${busybox.tag}`, `docker-archive:${archive}:busybox:bench`]);
    if (copied.code !== 0) throw new Error(`skopeo copy of the busybox base failed: ${copied.stderr}`);
    const d = dockerd;
    const docker = async (args: string[], env: Record<string, string> = {}) => {
      const r = await d.docker(args, { env: { PATH: SYSTEM_PATH, ...env }, timeoutMs: 900_000 });
      if (r.code !== 0) throw new Error(`docker ${args.join(" ")} failed (${r.code}): ${r.stderr.slice(-2000)}`);
      return r.stdout;
    };
    await docker(["load", "-i", archive]);
    const workloads = new Map<number, Promise<Workload>>();
    const baseRef = `oci:${busybox.layoutDir}:${busybox.tag}`;
    return {
      config,
      work,
      dockerd: d,
      tdfsBinary,
      baseRef,
      workload(count) {
        let w = workloads.get(count);
        if (!w) {
          w = createWorkload(join(work, `splits-${count}`), count, config.totalBytes);
          workloads.set(count, w);
        }
        return w;
      },
      async tdfsBuild({ store, descriptor, tag, noCache }) {
        const t = performance.now();
        await tdfs(["build", "-t", tag, "-f", descriptor, "--base", baseRef, "--store", store, "--compression", "none", "--quiet", ...(noCache ? ["--no-cache"] : [])]);
        return (performance.now() - t) / 1000;
      },
      async dockerBuild({ contextDir, tag, buildkit, noCache }) {
        // BuildKit needs host networking on a dockerd without a bridge (real-clients.md).
        const args = ["build", "-q", ...(buildkit ? ["--network", "host"] : []), ...(noCache ? ["--no-cache"] : []), "-t", tag, contextDir];
        return timeCommand("/usr/bin/docker", args, { env: { ...d.env, DOCKER_BUILDKIT: buildkit ? "1" : "0", PATH: SYSTEM_PATH } });
      },
      docker,
      async dockerReset(tags) {
        if (tags.length) await d.docker(["image", "rm", "-f", ...tags], { env: { PATH: SYSTEM_PATH } });
        await docker(["builder", "prune", "-af"], { DOCKER_BUILDKIT: "1" });
        await docker(["image", "prune", "-f"]);
      },
      async close() {
        await d.stop();
        await rm(work, { recursive: true, force: true }).catch(() => undefined);
        await removeTempDir(work);
      },
    };
  } catch (error) {
    await dockerd?.stop();
    await removeTempDir(work);
    throw error;
  }
}

/** Docker's server version, for the report. */
export async function dockerVersion(ctx: BenchContext): Promise<string> {
  return (await ctx.docker(["version", "--format", "{{.Server.Version}}"]).catch(() => "unknown")).trim();
}
