/** bench/results/paper.md: the comparison with the paper, the machine, one table per experiment, and the notes a reader needs to judge them. */
import type { RegistryData } from "./report-figures.ts";
import type { PaperResults } from "./results.ts";
import { mb, minMed, s3, times, toMarkdownTable } from "./markdown.ts";
import { toClaimRows } from "./summary.ts";

/** Renders the whole report. */
export function toReportMarkdown(results: PaperResults, figures: string[]): string {
  const e = results.experiments;
  const m = results.machine;
  const out: string[] = [];
  out.push("# 2dfs vs Docker: the paper's evaluation, reproduced\n");
  out.push(`Every number below was measured by \`${results.command}\` (scale: ${results.config.scale}) in ${Math.round(results.totalSeconds)} s. ` +
    `Times are "min / median" seconds over the repetitions: ${results.config.runs} or more of each 2dfs build, cp and sha256sum, ${results.config.pullRuns} of each pull, ` +
    `and up to ${results.config.dockerRuns} whole passes of each Docker experiment (as many as fit its time budget; \`paper.json\` has every sample).\n`);
  out.push("## Against the paper\n");
  const claims = toClaimRows(results);
  out.push(toMarkdownTable(claims.map((c) => ({
    claim: c.claim,
    paper: c.paper,
    "this run, legacy builder": c.unit === "x" ? `${c.legacy}x` : undefined,
    "this run, BuildKit": c.unit === "x" ? `${c.buildkit}x` : `${c.value} ms`,
    "this run / paper": c.unit === "x" ? `${c.shareOfPaper} / ${c.shareOfPaperBuildkit}` : (c.value ?? 0) < 0 ? "n/a (no overhead)" : `${c.shareOfPaper}`,
  }))));
  out.push("\nSpeed-ups are Docker's min time over 2dfs's min time. The paper's numbers are the reference 2DFS builder against Docker on the authors' machines (14 ML models; 55.9x was MobileNetV2 with 10 splits packaged as 1..10 Docker images); this run is this 2dfs against Docker on the machine below, with random float32-like splits. A negative pull overhead means the partition pull was the faster one.\n");
  if (m) {
    out.push("## Machine\n");
    out.push(toMarkdownTable([
      { item: "date", value: m.date },
      { item: "cores", value: m.cores },
      { item: "CPU", value: m.cpu },
      { item: "memory", value: `${m.memoryGB} GiB` },
      { item: "OS / kernel", value: `${m.os} / ${m.kernel}` },
      { item: "Bun", value: m.bun },
      { item: "2dfs", value: `${results.tdfs?.kind ?? "?"}` },
      { item: "Docker engine", value: m.docker },
      { item: "distribution registry", value: m.distribution },
      { item: "load average (1 min) at start / end", value: `${m.loadStart} / ${m.loadEnd ?? "?"}` },
    ]));
  }
  const errors = Object.entries(results.errors);
  if (errors.length) {
    out.push("\n## Failures\n");
    for (const [name, err] of errors) out.push(`- **${name}**:\n\n\`\`\`\n${err.slice(0, 3000)}\n\`\`\`\n`);
  }
  const physical = new Map((e.physical ?? []).map((p) => [p.splits, p]));
  if (e.build?.length) {
    out.push(`\n## 1. Build, one image, growing split count (fig. 8)\n`);
    out.push("Cold: `2dfs build --compression none --no-cache` vs `docker build --no-cache` (one COPY per split) with the legacy builder and with BuildKit; the base image is already in both stores and the page cache is warm. `cp` and `sha256sum` of the same files are the machine's limit.\n");
    out.push(toMarkdownTable(e.build.map((p) => {
      const ph = physical.get(p.splits);
      return {
        splits: p.splits,
        MB: mb(p.bytes),
        "cp s": ph ? minMed(ph.cp) : undefined,
        "sha256sum s": ph ? minMed(ph.sha256sum) : undefined,
        "2dfs s": minMed(p.tdfs),
        "legacy s": minMed(p.legacy),
        "BuildKit s": minMed(p.buildkit),
        "legacy / 2dfs": times(p.legacy.min, p.tdfs.min),
        "BuildKit / 2dfs": times(p.buildkit.min, p.tdfs.min),
        "2dfs / cp": ph ? times(p.tdfs.min, ph.cp.min) : undefined,
      };
    })));
  }
  if (e.manyImages?.length) {
    out.push(`\n## 2. One field vs many images (fig. 9)\n`);
    out.push("One cold 2dfs build of the whole field (any partition is then served, not built) vs the k `docker build`s that k partitions need, image j holding the splits of partition j. Docker runs with its cache on, as a user would, from an empty build cache at each repetition; each image has its own build context (hard links to its splits only), so Docker never sends splits it does not copy. The images share nothing but the base, so the cache cannot help them; the paper's exact Docker cache setting is not in our notes.\n");
    out.push(toMarkdownTable(e.manyImages.map((p) => ({
      "k images": p.images,
      splits: p.splits,
      MB: mb(p.bytes),
      "2dfs s": minMed(p.tdfs),
      "legacy s (sum of k)": minMed(p.legacy),
      "BuildKit s (sum of k)": minMed(p.buildkit),
      "legacy / 2dfs": times(p.legacy.min, p.tdfs.min),
      "BuildKit / 2dfs": times(p.buildkit.min, p.tdfs.min),
    }))));
  }
  if (e.rebuild?.length) {
    out.push(`\n## 3. Rebuild after updates (fig. 14)\n`);
    out.push(`Warm caches on both sides (each tool built the previous content); the changed splits get fresh random bytes${e.rebuild[0]?.flushed ? " (flushed with \`sync\`, untimed)" : " (not flushed before timing: 2dfs, going first, pays part of their write-back)"} before every repetition; 2dfs rebuilds first, then the legacy builder, then BuildKit. "first" changes the first COPY lines (Docker rebuilds every later layer), "last" the last ones.\n`);
    out.push(toMarkdownTable(e.rebuild.map((p) => ({
      changed: `${Math.round(p.share * 100)}% (${p.changedSplits} of ${p.splits})`,
      position: p.position,
      "2dfs s": minMed(p.tdfs),
      "legacy s": minMed(p.legacy),
      "BuildKit s": minMed(p.buildkit),
      "legacy / 2dfs": times(p.legacy.min, p.tdfs.min),
      "BuildKit / 2dfs": times(p.buildkit.min, p.tdfs.min),
    }))));
  }
  if (e.pull) {
    out.push(`\n## 4. Partition pull vs prebuilt pull (figs. 11-13)\n`);
    out.push(`\`2dfs push\` of the whole field to \`2dfs serve\` took ${s3(e.pull.push2dfs)} s. For each size, \`docker pull\` of the partition tag from \`2dfs serve\` vs \`docker pull\` of a prebuilt image with the same layers from the distribution registry (built from a 2dfs.json of just those splits and pushed with \`2dfs push\`; "same layers" compares the two manifests' layer digests). Images are removed and pruned before every pull; the two sides alternate who goes first. Bytes sent are the successful GETs in each server's access log during one pull; they leave out the busybox base layer, which dockerd keeps (the loaded busybox:bench image holds it) and, having fetched it once from each registry, does not download again on either side.\n`);
    out.push(toMarkdownTable(e.pull.points.map((p) => ({
      splits: p.splits,
      layers: p.layers,
      "same layers": p.sameLayers ? "yes" : "NO",
      "MB in manifest (2dfs / prebuilt)": `${mb(p.manifestBytes.tdfs)} / ${mb(p.manifestBytes.prebuilt)}`,
      "MB sent (2dfs / prebuilt)": `${mb(p.bytesSent.tdfs)} / ${mb(p.bytesSent.prebuilt)}`,
      "2dfs partition pull s": minMed(p.tdfs),
      "prebuilt pull s": minMed(p.prebuilt),
      "overhead ms (medians)": Math.round((p.tdfs.median - p.prebuilt.median) * 1000),
    }))));
  }
  if (e.registry?.length) out.push(toSubBenchSection(results));
  if (figures.length) {
    out.push("\n## Figures\n");
    for (const f of figures) out.push(`![${f}](${f})\n`);
  }
  out.push(`\n## Reproduce\n\n\`\`\`sh\nbun run bench                      # the real run (about ${results.config.scale === "full" ? Math.ceil(results.totalSeconds / 60) : "30"} minutes on 2 cores)\nBENCH_SCALE=small bun run bench    # a ~3 minute smoke run\n\`\`\`\n`);
  return out.join("\n");
}

function toSubBenchSection(results: PaperResults): string {
  const out: string[] = ["\n## 5. Registry, hashing, compression\n"];
  for (const r of results.experiments.registry ?? []) {
    if (!r.ok) {
      out.push(`- \`bench/${r.name}.ts\` failed: \`${(r.error ?? "").slice(0, 500).replace(/\n/g, " ")}\`\n`);
      continue;
    }
    if (r.name === "registry") {
      const d = r.data as RegistryData;
      out.push(`\`bench/registry.ts\`: a ${d.blobMB} MB blob, and ${d.requests} sequential manifest GETs of a 1,000-allotment field.\n`);
      out.push(toMarkdownTable(Object.entries(d.results).map(([name, v]) => ({
        registry: name,
        "push MB/s": Math.round(d.blobMB / v.pushSeconds),
        "GET MB/s": Math.round(d.blobMB / v.getSeconds),
        "plain tag p50 / p99 ms": `${v.plain.p50} / ${v.plain.p99}`,
        "partition p50 / p99 ms": v.partition ? `${v.partition.p50} / ${v.partition.p99}` : "n/a (cannot partition)",
      }))));
    } else if (r.name === "compress" && isCodecTable(r.data)) {
      out.push(`\n\`bench/compress.ts\` (MB/s; ratio = output/input in %):\n`);
      out.push(toMarkdownTable(Object.entries(r.data.codecs).flatMap(([codec, inputs]) =>
        Object.entries(inputs).map(([input, v]) => ({ codec, input, "MB/s": v.mbps, "ratio %": v.ratio }))),
      ));
    } else {
      const caption = r.name === "hash" ? "MB/s per engine; ratio = native / wasm" : r.name === "compress" ? "MB/s and ratio = output/input in %" : "";
      out.push(`\n\`bench/${r.name}.ts\` (${caption}):\n`);
      out.push(toMarkdownTable(flatten(r.data).map(([k, v]) => ({ measure: k, value: v }))));
    }
  }
  return out.join("\n");
}

/** Numeric leaves of a JSON value as dotted paths. */
function flatten(value: unknown, prefix = ""): [string, number][] {
  if (typeof value === "number") return [[prefix, value]];
  if (value === null || typeof value !== "object") return [];
  return Object.entries(value).flatMap(([k, v]) => flatten(v, prefix ? `${prefix} / ${k}` : k));
}

/** The shape bench/compress.ts writes: codec -> input kind -> speed and ratio. */
function isCodecTable(data: unknown): data is { codecs: Record<string, Record<string, { mbps: number; ratio: number }>> } {
  return typeof data === "object" && data !== null && typeof (data as { codecs?: unknown }).codecs === "object";
}
