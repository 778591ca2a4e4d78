/** The selection: a union of rectangles, its partition suffix, and what it selects. Pure. */
import { type Rect, inRects, parseTagPartition, toPartitionSuffix } from "../../../oci/partition-suffix.ts";
import type { ViewCell } from "./field-view.ts";

export type { Rect } from "../../../oci/partition-suffix.ts";

/** What a selection holds. */
export interface SelectionSummary {
  suffix: string;
  allotments: number;
  bytes: number;
}

/** The rectangle spanned by two corner cells, in either order. */
export function rectBetween(a: { row: number; col: number }, b: { row: number; col: number }): Rect {
  return { x1: Math.min(a.row, b.row), y1: Math.min(a.col, b.col), x2: Math.max(a.row, b.row), y2: Math.max(a.col, b.col) };
}

/** The suffix, allotment count and bytes of a selection; a cell in two rectangles counts once. */
export function summarize(cells: readonly ViewCell[], rects: readonly Rect[]): SelectionSummary {
  let allotments = 0;
  let bytes = 0;
  for (const c of cells) {
    if (!inRects(rects, c.row, c.col)) continue;
    allotments++;
    bytes += c.size;
  }
  return { suffix: toPartitionSuffix(withoutDuplicates(rects)), allotments, bytes };
}

/**
 * Reads what a user typed as a suffix: `--0.0.1.1--2.0.2.3`, the paper's `+0.0.1.1`, or bare
 * `0.0.1.1` for one rectangle. Empty text is an empty selection; anything else malformed throws
 * the registry's own PartitionSuffixError message.
 */
export function parseSuffix(text: string): Rect[] {
  const t = text.trim();
  if (t === "") return [];
  const suffix = /^[-+]/.test(t) ? t : `--${t}`;
  return parseTagPartition(`x${suffix}`)?.rects ?? [];
}

function withoutDuplicates(rects: readonly Rect[]): Rect[] {
  const seen = new Set<string>();
  return rects.filter((r) => {
    const key = `${r.x1}.${r.y1}.${r.x2}.${r.y2}`;
    if (seen.has(key)) return false;
    seen.add(key);
    return true;
  });
}

/** Human-readable bytes: 1.5 MB, 312 kB, 87 B (decimal units, as registries and Docker print). */
export function formatBytes(n: number): string {
  if (n < 1000) return `${n} B`;
  const units = ["kB", "MB", "GB", "TB"];
  let v = n;
  let i = -1;
  do {
    v /= 1000;
    i++;
  } while (v >= 1000 && i < units.length - 1);
  return `${v >= 100 ? v.toFixed(0) : v.toFixed(1)} ${units[i]}`;
}
