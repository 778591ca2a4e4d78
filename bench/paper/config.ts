/** Sizes and repetitions of the paper benchmark, picked by BENCH_SCALE (default: the real run, small: a ~3 minute smoke run). */

/** Everything that decides how big and how long the run is. */
export interface BenchConfig {
  scale: "full" | "small";
  /** Total bytes of the model-like workload (split into `splitCounts` files). */
  totalBytes: number;
  /** Split counts of the build experiment (fig. 8). */
  splitCounts: number[];
  /** Split count of the many-images and pull experiments (figs. 9, 11-13): the paper's MobileNetV2 had 10. */
  fieldSplits: number;
  /** Numbers of partitions / images for fig. 9. */
  imageCounts: number[];
  /** Split count of the rebuild experiment (fig. 14): 100 so that 1% is one split. */
  rebuildSplits: number;
  /** Shares of the splits changed before a rebuild. */
  updateShares: number[];
  /** Partition sizes (in splits of `fieldSplits`) pulled in figs. 11-13. */
  pullSplits: number[];
  /** Repetitions of cheap measurements (2dfs, cp, sha256sum, pulls). */
  runs: number;
  /** Repetitions of measurements that cost a Docker build (the expensive side), as whole passes over an experiment's points. */
  dockerRuns: number;
  /** Repetitions of each docker pull, per side. */
  pullRuns: number;
  /** Seconds after which an experiment starts no further Docker pass (it always does one). */
  budgets: { build: number; manyImages: number; rebuild: number };
  /** Seconds into the run after which the optional compression bench is skipped. */
  compressDeadline: number;
  /** Environment for the registry/hash/compress sub-benches. */
  subBenchEnv: Record<string, string>;
  /** Whether to run bench/compress.ts (about a minute at any scale). */
  compress: boolean;
}

/** Reads BENCH_SCALE (and BENCH_RUNS / BENCH_DOCKER_RUNS overrides) from the environment. */
export function toBenchConfig(env: Record<string, string | undefined> = process.env): BenchConfig {
  const small = env.BENCH_SCALE === "small";
  const base: BenchConfig = small
    ? {
        scale: "small",
        totalBytes: 40_000_000,
        splitCounts: [1, 10, 25],
        fieldSplits: 10,
        imageCounts: [1, 2, 5, 10],
        rebuildSplits: 20,
        updateShares: [0.01, 0.1, 0.5, 1],
        pullSplits: [1, 5, 10],
        runs: 2,
        dockerRuns: 2,
        pullRuns: 2,
        budgets: { build: 30, manyImages: 30, rebuild: 30 },
        compressDeadline: 0,
        subBenchEnv: { BENCH_BLOB_MB: "32", BENCH_REQUESTS: "100", BENCH_RUNS: "1" },
        compress: false,
      }
    : {
        scale: "full",
        totalBytes: 500_000_000,
        splitCounts: [1, 10, 25, 50, 100],
        fieldSplits: 10,
        imageCounts: [1, 2, 5, 10],
        rebuildSplits: 100,
        updateShares: [0.01, 0.1, 0.5, 1],
        pullSplits: [1, 2, 5, 10],
        runs: 5,
        dockerRuns: 3,
        pullRuns: 5,
        // About 27 minutes in all on 2 cores, with room for a loaded machine within the 30.
        budgets: { build: 420, manyImages: 270, rebuild: 480 },
        compressDeadline: 25 * 60,
        subBenchEnv: { BENCH_BLOB_MB: "500", BENCH_REQUESTS: "1000", BENCH_RUNS: "3" },
        compress: true,
      };
  const runs = Number(env.BENCH_RUNS ?? base.runs);
  const dockerRuns = Number(env.BENCH_DOCKER_RUNS ?? base.dockerRuns);
  return { ...base, runs: runs > 0 ? runs : base.runs, dockerRuns: dockerRuns > 0 ? dockerRuns : base.dockerRuns, pullRuns: runs > 0 && env.BENCH_RUNS ? runs : base.pullRuns };
}
