/** The field model: allotments on a grid of (row, col) cells, and selections of them. */
import type { Descriptor } from "../oci/descriptor.ts";
import type { Digest } from "../oci/digest.ts";
import { type Rect, inRects, toPartitionSuffix } from "../oci/partition-suffix.ts";

/** One allotment of a field: its cell, its layer blob and the digest of its uncompressed tar. */
export interface Allotment {
  row: number;
  col: number;
  layer: Descriptor;
  diffId: Digest;
}

/** Thrown when a stored field (native manifest or reference field blob) is malformed. */
export class FieldFormatError extends Error {
  override name = "FieldFormatError";
}

/** Thrown when a selection of rectangles contains no allotment at all. */
export class EmptySelectionError extends Error {
  override name = "EmptySelectionError";
}

/** Row-major order of cells: by row, then by column. */
export function compareCells(a: { row: number; col: number }, b: { row: number; col: number }): number {
  return a.row - b.row || a.col - b.col;
}

/** The cells lying in any of the rectangles, each once, in row-major order. */
export function selectAllotments<T extends { row: number; col: number }>(cells: readonly T[], rects: readonly Rect[]): T[] {
  const seen = new Set<string>();
  const out: T[] = [];
  for (const cell of cells) {
    if (!inRects(rects, cell.row, cell.col)) continue;
    // Overlapping rectangles and repeated cells must never yield a layer twice.
    const key = `${cell.row},${cell.col}`;
    if (seen.has(key)) continue;
    seen.add(key);
    out.push(cell);
  }
  return out.sort(compareCells);
}

/** A human description of where the cells lie, e.g. "3 allotments in rows 0..1, columns 0..2". */
export function describeExtent(cells: readonly { row: number; col: number }[]): string {
  if (cells.length === 0) return "the field has no allotments";
  let [minRow, maxRow, minCol, maxCol] = [Infinity, -Infinity, Infinity, -Infinity];
  for (const { row, col } of cells) {
    minRow = Math.min(minRow, row);
    maxRow = Math.max(maxRow, row);
    minCol = Math.min(minCol, col);
    maxCol = Math.max(maxCol, col);
  }
  const noun = cells.length === 1 ? "allotment" : "allotments";
  return `the field has ${cells.length} ${noun} in rows ${minRow}..${maxRow}, columns ${minCol}..${maxCol}`;
}

/** Selects like selectAllotments, but throws EmptySelectionError (naming the field's extent) when nothing is selected. */
export function selectNonEmpty<T extends { row: number; col: number }>(cells: readonly T[], rects: readonly Rect[]): T[] {
  const selected = selectAllotments(cells, rects);
  if (selected.length === 0) {
    throw new EmptySelectionError(
      `no allotment lies in the rectangles ${toPartitionSuffix(rects) || "(none given)"}; ${describeExtent(cells)}`,
    );
  }
  return selected;
}

/** Compact JSON bytes of a document (key order as inserted). */
export function toJsonBytes(doc: unknown): Uint8Array {
  return new TextEncoder().encode(JSON.stringify(doc));
}
