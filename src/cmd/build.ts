/** `2dfs build`: base image + 2dfs.json -> an OCI+2DFS image in the local store. */
import { availableParallelism } from "node:os";
import { buildImage, type BuildEvent } from "../builder/build-image.ts";
import { createLayoutStore } from "../content/layout-store.ts";
import { defaultStoreDir } from "../content/paths.ts";
import { createWorkerPool, type WorkerPool } from "../hash/pool.ts";
import { kernelCopyAvailable } from "../util/copy-file-range.ts";
import { parsePlatformString } from "../oci/descriptor.ts";
import { obtainBaseImage } from "./base-image.ts";
import { UsageError } from "./errors.ts";
import { formatBytes } from "../util/format-bytes.ts";
import { type OutputFlags, createReporter } from "./reporter.ts";

/** Flags of `2dfs build`. */
export interface BuildFlags extends OutputFlags {
  tag?: string;
  file?: string;
  base?: string;
  compression?: string;
  minSaving?: number | string;
  format?: string;
  platform?: string | string[];
  jobs?: number | string;
  cache?: boolean;
  allowOutsideContext?: boolean;
  store?: string;
}

const COMPRESSIONS = ["auto", "none", "gzip", "zstd"] as const;
const FORMATS = ["native", "reference"] as const;

/** Runs a build and prints its progress and result. */
export async function buildCommand(flags: BuildFlags): Promise<void> {
  if (!flags.tag) throw new UsageError("missing -t NAME:TAG", "2dfs build -t myimage:v1 [-f 2dfs.json]");
  const compression = oneOf(flags.compression ?? "auto", COMPRESSIONS, "--compression");
  const minSaving = parseMinSaving(flags.minSaving, compression);
  const format = oneOf(flags.format ?? "native", FORMATS, "--format");
  const jobs = flags.jobs === undefined ? availableParallelism() : Number(flags.jobs);
  if (!Number.isInteger(jobs) || jobs < 1 || jobs > 256) throw new UsageError(`--jobs must be an integer from 1 to 256, got "${flags.jobs}"`);
  const platforms = [flags.platform ?? []].flat().flatMap((p) => String(p).split(",")).filter(Boolean).map(parsePlatformString);
  const name = flags.tag.includes(":") || flags.tag.includes("@") ? flags.tag : `${flags.tag}:latest`;

  const reporter = createReporter(flags);
  const store = await createLayoutStore(defaultStoreDir(flags.store));
  const base = await obtainBaseImage(flags.base, store, platforms.length ? platforms : undefined);
  let pool: WorkerPool | undefined;
  // One executor (one layer to write, or --jobs 1) is this thread: a worker's boot (30-100 ms)
  // would be pure wait. More run on worker threads only, so this thread is always free to hand
  // out the next job (a layer it wrote itself held it for up to 30 ms per compressed chunk;
  // bench/build.ts, real models: 0.175 -> 0.148 s uncompressed, 0.30 -> 0.21 s with auto).
  const startPool = (misses: number) => {
    // Workers make the same C library choice but cannot write --debug lines: make it here first.
    kernelCopyAvailable();
    const executors = Math.max(1, Math.min(jobs, misses));
    return (pool ??= createWorkerPool({ workers: executors, inline: executors === 1 }));
  };
  const started = performance.now();
  let totalBytes = 0;
  let doneBytes = 0;
  let total = 0;
  let done = 0;
  try {
    const result = await buildImage({
      store,
      pool: startPool,
      descriptorPath: flags.file ?? "2dfs.json",
      name,
      base,
      compression,
      ...(minSaving !== undefined ? { minSaving } : {}),
      format,
      platforms: platforms.length ? platforms : undefined,
      jobs,
      noCache: flags.cache === false,
      allowOutsideContext: flags.allowOutsideContext === true,
      onEvent(event: BuildEvent) {
        reporter.event(event);
        if (event.type === "warning") reporter.warn(event.message);
        if (event.type === "plan") {
          total = event.allotments;
          totalBytes = event.bytes;
        }
        if (event.type === "allotment") {
          done++;
          doneBytes += event.bytesRead;
          reporter.progress(`allotments ${done}/${total}  read ${formatBytes(doneBytes)} of ${formatBytes(totalBytes)}`);
          if (!reporter.live) {
            reporter.info(`${event.status.padEnd(6)} ${event.row}.${event.col}  ${event.digest.slice(0, 19)}  ${formatBytes(event.size)}  ${describeCompression(event)}`);
          }
        }
      },
    });
    reporter.done();
    const seconds = ((performance.now() - started) / 1000).toFixed(2);
    reporter.info(`built ${name} ${result.descriptor.digest} — ${result.built} allotments built, ${result.cached} cached, in ${seconds}s`);
  } finally {
    await pool?.close();
  }
}

/** `--min-saving PCT` as a fraction; only `auto` decides, so it is refused with a codec asked for. */
function parseMinSaving(value: number | string | undefined, compression: string): number | undefined {
  if (value === undefined) return undefined;
  const text = String(value).trim().replace(/%$/, "");
  const pct = text === "" ? NaN : Number(text);
  if (!Number.isFinite(pct) || pct < 0 || pct > 100) throw new UsageError(`--min-saving must be a percentage from 0 to 100, got "${value}"`);
  if (compression !== "auto") throw new UsageError(`--min-saving applies to --compression auto only, not ${compression}`);
  return pct / 100;
}

/** "gzip, 31% of 6.8 MB (auto: sample 30% by deflate-6, compresses at <= 45%, level 6)" for one allotment line. */
function describeCompression(event: Extract<BuildEvent, { type: "allotment" }>): string {
  const pct = (x: number) => `${Math.round(x * 1000) / 10}%`;
  const ratio = event.compression !== "none" && event.tarSize ? `, ${pct(event.size / event.tarSize)} of ${formatBytes(event.tarSize)}` : "";
  const level = event.auto?.level !== undefined ? `, level ${event.auto.level}` : "";
  const auto = event.auto ? ` (auto: sample ${pct(event.auto.sampleRatio)} by ${event.auto.estimator}, compresses at <= ${pct(1 - event.auto.minSaving)}${level})` : "";
  return `${event.compression}${ratio}${auto}`;
}

function oneOf<T extends string>(value: string, allowed: readonly T[], flag: string): T {
  if ((allowed as readonly string[]).includes(value)) return value as T;
  throw new UsageError(`${flag} must be one of ${allowed.join(", ")}, got "${value}"`);
}
