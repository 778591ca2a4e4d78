/**
 * What the page draws for one platform image: its allotments (cell, size, file names), the
 * grid axes and a summary of the base layers. Pure: built from the manifest and config the page
 * fetched from /v2, with the same field reader the registry uses.
 */
import { findNativeField, isAllotmentLayer } from "../../../field/native-format.ts";
import { Annotation } from "../../../oci/annotations.ts";
import type { ImageConfig } from "../../../oci/config.ts";
import type { ImageManifest } from "../../../oci/manifest.ts";

/** One allotment as drawn. */
export interface ViewCell {
  row: number;
  col: number;
  /** Bytes of its layer blob as stored (what a pull transfers). */
  size: number;
  digest: string;
  /** File names from the config history `2dfs build` writes (the first three and "+N more"), or "" when none. */
  files: string;
}

/** A platform image as the page shows it. */
export interface FieldView {
  cells: ViewCell[];
  baseLayers: number;
  baseBytes: number;
  /** Row and column indices drawn, ascending. */
  rows: number[];
  cols: number[];
  /** True when only rows and columns holding allotments are drawn (a sparse field too large to draw whole). */
  compacted: boolean;
}

/** The most grid cells drawn; a larger (sparse) field draws only the rows and columns it uses. */
export const MAX_DRAWN_CELLS = 40_000;

/**
 * The view of an image: a native field (manifest annotations or config history, in the field
 * reader's order of authority), else layers carrying cell annotations (how a partition of a
 * reference field lists its allotments), else no field at all (every layer is a base layer).
 */
export function toFieldView(manifest: ImageManifest, config: ImageConfig): FieldView {
  const native = findNativeField(manifest, config);
  const names = historyFileNames(config);
  let baseLayers: number;
  let cells: ViewCell[];
  if (native) {
    baseLayers = native.baseLayerCount;
    cells = native.allotments.map((a) => toCell(a.row, a.col, a.layer.size, a.layer.digest, names));
  } else {
    const first = manifest.layers.findIndex(isAllotmentLayer);
    baseLayers = first < 0 ? manifest.layers.length : first;
    cells = manifest.layers.slice(baseLayers).map((l) => {
      const row = Number(l.annotations?.[Annotation.tdfsRow]);
      const col = Number(l.annotations?.[Annotation.tdfsCol]);
      return toCell(row, col, l.size, l.digest, names);
    });
  }
  const baseBytes = manifest.layers.slice(0, baseLayers).reduce((sum, l) => sum + l.size, 0);
  return { cells, baseLayers, baseBytes, ...axes(cells) };
}

function toCell(row: number, col: number, size: number, digest: string, names: Map<string, string>): ViewCell {
  return { row, col, size, digest, files: names.get(`${row}.${col}`) ?? "" };
}

// `2dfs build` describes each allotment as "2dfs allotment R.C: /a /b /c (+N more)".
const BUILD_ENTRY = /^2dfs allotment (\d+)\.(\d+): (.*)$/;

function historyFileNames(config: ImageConfig): Map<string, string> {
  const out = new Map<string, string>();
  for (const h of config.history ?? []) {
    const m = typeof h.created_by === "string" ? BUILD_ENTRY.exec(h.created_by) : null;
    if (m) out.set(`${Number(m[1])}.${Number(m[2])}`, m[3]!);
  }
  return out;
}

function axes(cells: readonly ViewCell[]): { rows: number[]; cols: number[]; compacted: boolean } {
  if (cells.length === 0) return { rows: [], cols: [], compacted: false };
  const usedRows = [...new Set(cells.map((c) => c.row))].sort((a, b) => a - b);
  const usedCols = [...new Set(cells.map((c) => c.col))].sort((a, b) => a - b);
  const rowCount = usedRows[usedRows.length - 1]! + 1;
  const colCount = usedCols[usedCols.length - 1]! + 1;
  if (rowCount * colCount <= MAX_DRAWN_CELLS) {
    return { rows: range(rowCount), cols: range(colCount), compacted: false };
  }
  return { rows: usedRows, cols: usedCols, compacted: true };
}

function range(n: number): number[] {
  return Array.from({ length: n }, (_, i) => i);
}
