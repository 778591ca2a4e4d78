/** The headline comparison: this run's speed-ups and overhead next to the paper's published ones. */
import type { PaperResults } from "./results.ts";

/** The paper's published numbers (reference-2dfs.md, "Published results"): the yardstick, not a measurement. */
export const PAPER = {
  buildSpeedup: 56,
  rebuildAverage: 25,
  rebuildPeak: 75,
  partitionOverheadMs: 20,
} as const;

/** One row of the comparison table. */
export interface ClaimRow {
  claim: string;
  paper: string;
  legacy?: number;
  buildkit?: number;
  /** For claims with one number (the pull overhead). */
  value?: number;
  unit: "x" | "ms";
  /** This run divided by the paper (legacy builder, or the single value). */
  shareOfPaper?: number;
  /** Same for BuildKit. */
  shareOfPaperBuildkit?: number;
}

const mean = (v: number[]) => v.reduce((a, b) => a + b, 0) / v.length;
const r2 = (v: number) => Number(v.toPrecision(3));

/** Computes the comparison rows from whatever experiments finished. */
export function toClaimRows(results: PaperResults): ClaimRow[] {
  const rows: ClaimRow[] = [];
  const e = results.experiments;
  const speedups = (points: { tdfs: { min: number }; legacy: { min: number }; buildkit: { min: number } }[]) => ({
    legacy: points.map((p) => p.legacy.min / p.tdfs.min),
    buildkit: points.map((p) => p.buildkit.min / p.tdfs.min),
  });
  const push = (claim: string, paper: number, legacy: number, buildkit: number) =>
    rows.push({ claim, paper: `${paper}x`, legacy: r2(legacy), buildkit: r2(buildkit), unit: "x", shareOfPaper: r2(legacy / paper), shareOfPaperBuildkit: r2(buildkit / paper) });
  if (e.manyImages?.length) {
    const s = speedups(e.manyImages);
    const ks = e.manyImages.map((p) => p.images).join(", ");
    push(`Build: one field vs k images, average over k = ${ks} (fig. 9)`, PAPER.buildSpeedup, mean(s.legacy), mean(s.buildkit));
    push(`Build: one field vs k images, best k (fig. 9)`, PAPER.buildSpeedup, Math.max(...s.legacy), Math.max(...s.buildkit));
  }
  if (e.build?.length) {
    const s = speedups(e.build);
    push(`Build: one image, best split count (fig. 8)`, PAPER.buildSpeedup, Math.max(...s.legacy), Math.max(...s.buildkit));
  }
  if (e.rebuild?.length) {
    const s = speedups(e.rebuild);
    push(`Rebuild after updates, average of ${e.rebuild.length} cases (fig. 14)`, PAPER.rebuildAverage, mean(s.legacy), mean(s.buildkit));
    push(`Rebuild after updates, peak (fig. 14)`, PAPER.rebuildPeak, Math.max(...s.legacy), Math.max(...s.buildkit));
  }
  if (e.pull?.points.length) {
    const overhead = mean(e.pull.points.map((p) => (p.tdfs.median - p.prebuilt.median) * 1000));
    rows.push({
      claim: "Partition pull minus prebuilt pull, mean of medians (figs. 11-13)",
      paper: `~${PAPER.partitionOverheadMs} ms`,
      value: Math.round(overhead),
      unit: "ms",
      shareOfPaper: r2(overhead / PAPER.partitionOverheadMs),
    });
  }
  return rows;
}
