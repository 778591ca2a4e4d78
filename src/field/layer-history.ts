/** Keeping a config's `history` aligned with its layers when 2dfs adds or removes layers. */
import type { HistoryEntry, ImageConfig } from "../oci/config.ts";

/** The comment on history entries 2dfs inserts for base layers whose history is missing. */
export const MISSING_HISTORY_COMMENT = "2dfs: no history recorded for this base layer";

/**
 * The base history extended so that it describes at least `layerCount` layers: runtimes match
 * non-`empty_layer` entries to layers in order, so entries appended after a short history would
 * describe the wrong layers. Missing entries are padded at the end (where they are lost is
 * unknowable); a history longer than the layers is kept as it is.
 */
export function paddedBaseHistory(config: ImageConfig, layerCount: number): HistoryEntry[] {
  const history = [...(config.history ?? [])];
  let described = history.filter((h) => !h.empty_layer).length;
  for (; described < layerCount; described++) history.push({ comment: MISSING_HISTORY_COMMENT });
  return history;
}

/**
 * Removes the history entries of the layers `drop` says to drop. Entries are matched to layers
 * from the end (the last non-empty entry describes the last layer), because allotments are always
 * the last layers while base images sometimes carry a history that miscounts their own layers.
 */
export function historyWithoutLayers(history: readonly HistoryEntry[], layerCount: number, drop: (layer: number) => boolean): HistoryEntry[] {
  const described: number[] = [];
  history.forEach((h, i) => {
    if (!h.empty_layer) described.push(i);
  });
  const removed = new Set<number>();
  described.forEach((entry, j) => {
    const layer = layerCount - described.length + j;
    if (layer >= 0 && drop(layer)) removed.add(entry);
  });
  return history.filter((_, i) => !removed.has(i));
}

/** The comment on the history entry of every allotment layer. */
export const ALLOTMENT_HISTORY_COMMENT = "2dfs allotment";

/**
 * The comment on an empty-layer history entry 2dfs writes before the allotment entries when the
 * base image is itself a field: it ends the run of allotment entries that belong to this field,
 * so the base's allotments (now base layers) are never taken for this field's.
 */
export const FIELD_START_HISTORY_COMMENT = "2dfs field start";

// `2dfs build` writes "2dfs allotment R.C: <files>"; partitions of reference fields write
// "2dfs allotment row R col C". Both carry ALLOTMENT_HISTORY_COMMENT.
const BUILD_ENTRY = /^2dfs allotment (0|[1-9]\d{0,6})\.(0|[1-9]\d{0,6})(?::|$)/;
const PARTITION_ENTRY = /^2dfs allotment row (0|[1-9]\d{0,6}) col (0|[1-9]\d{0,6})$/;

/** The cell a history entry written for an allotment layer names, or undefined for any other entry. */
export function parseAllotmentHistory(entry: HistoryEntry, maxIndex: number): { row: number; col: number } | undefined {
  if (entry.empty_layer || entry.comment !== ALLOTMENT_HISTORY_COMMENT || typeof entry.created_by !== "string") return undefined;
  const m = BUILD_ENTRY.exec(entry.created_by) ?? PARTITION_ENTRY.exec(entry.created_by);
  if (!m) return undefined;
  const row = Number(m[1]);
  const col = Number(m[2]);
  return row <= maxIndex && col <= maxIndex ? { row, col } : undefined;
}

/**
 * The cells of the allotment layers a config history names: the longest run of allotment entries
 * at the very end of the history whose cells are strictly row-major (2dfs writes them last, in
 * that order). Any other entry, a field-start marker included, ends the run. Matched to layers from
 * the end like historyWithoutLayers: the run names the last layers of the image, in order.
 */
export function allotmentCellsFromHistory(history: readonly HistoryEntry[] | undefined, maxIndex: number): { row: number; col: number }[] {
  const cells: { row: number; col: number }[] = [];
  for (let i = (history?.length ?? 0) - 1; i >= 0; i--) {
    const cell = parseAllotmentHistory(history![i]!, maxIndex);
    if (!cell) break;
    const next = cells[0];
    if (next && (cell.row > next.row || (cell.row === next.row && cell.col >= next.col))) break;
    cells.unshift(cell);
  }
  return cells;
}
