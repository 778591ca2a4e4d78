import { describe, expect, test } from "bun:test";
import { MISSING_HISTORY_COMMENT, historyWithoutLayers, paddedBaseHistory } from "../../src/field/layer-history.ts";
import type { HistoryEntry, ImageConfig } from "../../src/oci/config.ts";

const config = (history?: HistoryEntry[]): ImageConfig => ({
  architecture: "amd64",
  os: "linux",
  rootfs: { type: "layers", diff_ids: [] },
  ...(history ? { history } : {}),
});

describe("paddedBaseHistory", () => {
  test("pads only what is missing, at the end", () => {
    const h = [{ created_by: "a" }, { created_by: "e", empty_layer: true }];
    expect(paddedBaseHistory(config(h), 3)).toEqual([...h, { comment: MISSING_HISTORY_COMMENT }, { comment: MISSING_HISTORY_COMMENT }]);
    expect(paddedBaseHistory(config(h), 1)).toEqual(h);
    expect(paddedBaseHistory(config(h), 0)).toEqual(h);
    expect(paddedBaseHistory(config(), 1)).toEqual([{ comment: MISSING_HISTORY_COMMENT }]);
  });
});

describe("historyWithoutLayers", () => {
  const h: HistoryEntry[] = [
    { created_by: "L0" },
    { created_by: "E", empty_layer: true },
    { created_by: "L1" },
    { created_by: "L2" },
    { created_by: "E2", empty_layer: true },
  ];
  test("drops the entries of the dropped layers and keeps empty_layer entries", () => {
    expect(historyWithoutLayers(h, 3, (i) => i === 1).map((e) => e.created_by)).toEqual(["L0", "E", "L2", "E2"]);
    expect(historyWithoutLayers(h, 3, () => false)).toEqual(h);
  });
  test("aligns from the end when counts differ", () => {
    // 3 described entries for 2 layers: the first entry describes no layer that exists.
    expect(historyWithoutLayers(h, 2, (i) => i === 0).map((e) => e.created_by)).toEqual(["L0", "E", "L2", "E2"]);
    // 3 described entries for 5 layers: layers 0 and 1 have no entry.
    expect(historyWithoutLayers(h, 5, (i) => i === 0 || i === 2).map((e) => e.created_by)).toEqual(["E", "L1", "L2", "E2"]);
  });
});
