/**
 * `bun run bench`: the paper's evaluation against real Docker, side by side in one run,
 * written to bench/results/paper.md, paper.json and fig-*.svg. It starts its own dockerd,
 * distribution registry and `2dfs serve` on 127.0.0.1 / private sockets and stops them all
 * at the end, also on failure or Ctrl-C.
 *
 *   bun run bench                      # the real run (fits 30 minutes on 2 cores)
 *   BENCH_SCALE=small bun run bench    # a ~3 minute smoke run
 *   BENCH_ONLY=build,pull bun run bench
 */
import { toBenchConfig } from "./paper/config.ts";
import { toFailureText } from "./paper/errors.ts";
import { createBenchContext, dockerVersion, type BenchContext } from "./paper/context.ts";
import { runBuild } from "./paper/exp-build.ts";
import { runManyImages } from "./paper/exp-many-images.ts";
import { runPhysical } from "./paper/exp-physical.ts";
import { runPull } from "./paper/exp-pull.ts";
import { runRebuild } from "./paper/exp-rebuild.ts";
import { runRegistryBenches } from "./paper/exp-registry.ts";
import { currentLoad, readMachineInfo } from "./paper/machine.ts";
import { writePaperReport } from "./paper/report.ts";
import type { Experiments, PaperResults } from "./paper/results.ts";

const config = toBenchConfig();
const only = process.env.BENCH_ONLY?.split(",").filter(Boolean);
const results: PaperResults = {
  command: `${config.scale === "small" ? "BENCH_SCALE=small " : ""}bun run bench`,
  config,
  experiments: {},
  errors: {},
  durations: {},
  totalSeconds: 0,
};

// Order matters: the rebuild experiment rewrites its splits, so it comes after the ones that read them.
const steps: { [K in keyof Experiments]-?: (ctx: BenchContext) => Promise<NonNullable<Experiments[K]>> } = {
  physical: runPhysical,
  build: runBuild,
  manyImages: runManyImages,
  pull: runPull,
  rebuild: runRebuild,
  registry: runRegistryBenches,
};

const started = performance.now();
let ctx: BenchContext | undefined;
let closing: Promise<void> | undefined;
const close = () => (closing ??= ctx?.close() ?? Promise.resolve());
for (const signal of ["SIGINT", "SIGTERM"] as const) {
  process.on(signal, () => {
    console.error(`\nbench: ${signal}, stopping the daemons`);
    void close().finally(() => process.exit(130));
  });
}

try {
  console.log(`bench: scale ${config.scale}, ${config.runs} runs (${config.dockerRuns} for Docker builds)`);
  ctx = await createBenchContext(config);
  results.tdfs = { command: ctx.tdfsBinary.command, kind: ctx.tdfsBinary.kind };
  results.machine = await readMachineInfo(await dockerVersion(ctx));
  for (const [name, step] of Object.entries(steps) as [keyof Experiments, (c: BenchContext) => Promise<unknown>][]) {
    if (only && !only.includes(name)) continue;
    const t = performance.now();
    console.log(`\n== ${name}`);
    try {
      (results.experiments as Record<string, unknown>)[name] = await step(ctx);
    } catch (error) {
      results.errors[name] = toFailureText(error);
      console.error(`bench: ${name} failed: ${results.errors[name]}`);
    }
    results.durations[name] = Math.round((performance.now() - t) / 100) / 10;
  }
} catch (error) {
  results.errors.setup = toFailureText(error);
  console.error(`bench: setup failed: ${results.errors.setup}`);
} finally {
  await close();
}

results.totalSeconds = (performance.now() - started) / 1000;
if (results.machine) results.machine.loadEnd = currentLoad();
const written = await writePaperReport(results);
console.log(`\nbench: done in ${Math.round(results.totalSeconds)} s; wrote\n  ${written.join("\n  ")}`);
if (Object.keys(results.errors).length) {
  console.error(`bench: ${Object.keys(results.errors).length} experiment(s) failed: ${Object.keys(results.errors).join(", ")} (see paper.md)`);
  process.exitCode = 1;
}
