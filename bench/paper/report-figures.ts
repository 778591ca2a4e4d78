/** One SVG chart per paper figure, from the run's results (both tools on every chart, plus the physical limit where it applies). */
import { renderChart, type Chart } from "../lib/svg-plot.ts";
import type { PaperResults } from "./results.ts";

/** File name (under bench/results/) -> SVG text, for the figures whose experiments finished. */
export function toFigures(results: PaperResults): Record<string, string> {
  const out: Record<string, string> = {};
  const e = results.experiments;
  const add = (name: string, chart: Chart) => (out[name] = renderChart(chart));
  if (e.build?.length) {
    const phys = new Map((e.physical ?? []).map((p) => [p.splits, p]));
    const series = [
      { name: "2dfs build", values: e.build.map((p) => p.tdfs.min) },
      { name: "docker (legacy)", values: e.build.map((p) => p.legacy.min) },
      { name: "docker (BuildKit)", values: e.build.map((p) => p.buildkit.min) },
    ];
    if (phys.size) {
      series.push({ name: "plain cp", values: e.build.map((p) => phys.get(p.splits)?.cp.min ?? NaN) });
      series.push({ name: "sha256sum", values: e.build.map((p) => phys.get(p.splits)?.sha256sum.min ?? NaN) });
    }
    add("fig-8-build.svg", {
      title: `Fig. 8: cold build of ${mbOf(e.build[0]!.bytes)} MB, min of runs`,
      xLabel: "number of split files (one allotment / one COPY each)",
      yLabel: "build time (s)",
      categories: e.build.map((p) => String(p.splits)),
      series,
      kind: "lines",
      logY: true,
    });
  }
  if (e.manyImages?.length) {
    add("fig-9-many-images.svg", {
      title: `Fig. 9: one 2dfs field vs k Docker images (${e.manyImages[0]!.splits} splits)`,
      xLabel: "k = number of partitions (Docker: one image each)",
      yLabel: "total build time (s)",
      categories: e.manyImages.map((p) => String(p.images)),
      series: [
        { name: "2dfs (one field)", values: e.manyImages.map((p) => p.tdfs.min) },
        { name: "legacy (k images)", values: e.manyImages.map((p) => p.legacy.min) },
        { name: "BuildKit (k images)", values: e.manyImages.map((p) => p.buildkit.min) },
      ],
      logY: true,
    });
  }
  if (e.rebuild?.length) {
    add("fig-14-rebuild.svg", {
      title: `Fig. 14: rebuild after updating splits (${e.rebuild[0]!.splits} splits, warm caches)`,
      xLabel: "share of splits changed, at the first / last COPY lines",
      yLabel: "rebuild time (s)",
      categories: e.rebuild.map((p) => `${Math.round(p.share * 100)}% ${p.position}`),
      series: [
        { name: "2dfs build", values: e.rebuild.map((p) => p.tdfs.min) },
        { name: "docker (legacy)", values: e.rebuild.map((p) => p.legacy.min) },
        { name: "docker (BuildKit)", values: e.rebuild.map((p) => p.buildkit.min) },
      ],
      logY: true,
    });
  }
  const pulls = e.pull?.points ?? [];
  if (pulls.length) {
    const categories = pulls.map((p) => `${p.splits} (${mbOf(p.manifestBytes.tdfs)} MB)`);
    add("fig-11-13-pull-time.svg", {
      title: "Figs. 11-13: docker pull, 2dfs partition vs prebuilt",
      xLabel: "splits pulled (image size)",
      yLabel: "docker pull time, median (s)",
      categories,
      series: [
        { name: "2dfs partition", values: pulls.map((p) => p.tdfs.median) },
        { name: "prebuilt image", values: pulls.map((p) => p.prebuilt.median) },
      ],
    });
    add("fig-11-13-pull-bytes.svg", {
      title: "Figs. 11-13: bytes sent per pull",
      xLabel: "splits pulled",
      yLabel: "MB sent (access log)",
      categories: pulls.map((p) => String(p.splits)),
      series: [
        { name: "2dfs partition", values: pulls.map((p) => p.bytesSent.tdfs / 1e6) },
        { name: "prebuilt image", values: pulls.map((p) => p.bytesSent.prebuilt / 1e6) },
      ],
    });
  }
  const registry = e.registry?.find((r) => r.name === "registry" && r.ok)?.data as RegistryData | undefined;
  if (registry?.results) {
    const names = Object.keys(registry.results);
    const size = registry.blobMB;
    add("fig-registry-blob.svg", {
      title: `Registry: ${size} MB blob over loopback`,
      xLabel: "operation",
      yLabel: "MB/s",
      categories: ["push", "GET"],
      series: names.map((n) => ({
        name: n,
        values: [size / registry.results[n]!.pushSeconds, size / registry.results[n]!.getSeconds],
      })),
    });
  }
  return out;
}

/** The shape bench/registry.ts writes under `data`. */
export interface RegistryData {
  blobMB: number;
  requests: number;
  results: Record<string, { pushSeconds: number; getSeconds: number; plain: Latency; partition?: Latency; pulls?: { seconds: number; errors: number } }>;
}

/** Latency percentiles in ms. */
export interface Latency {
  p50: number;
  p99: number;
  max: number;
}

function mbOf(bytes: number): number {
  return Math.round(bytes / 1e6);
}
