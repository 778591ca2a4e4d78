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
