import { describe, expect, test } from "bun:test";
import type { ViewCell } from "../../../src/registry/ui/page/field-view.ts";
import { formatBytes, parseSuffix, rectBetween, summarize } from "../../../src/registry/ui/page/selection.ts";

const cell = (row: number, col: number, size: number): ViewCell => ({ row, col, size, digest: `sha256:${row}${col}`, files: "" });
// 2 x 3 field with a hole at (1, 1).
const CELLS = [cell(0, 0, 10), cell(0, 1, 20), cell(0, 2, 40), cell(1, 0, 80), cell(1, 2, 160)];

describe("selection", () => {
  test("a rectangle from any two corners", () => {
    expect(rectBetween({ row: 1, col: 2 }, { row: 0, col: 0 })).toEqual({ x1: 0, y1: 0, x2: 1, y2: 2 });
  });

  test("the summary counts each allotment once in a union of overlapping rectangles, holes count nothing", () => {
    const s = summarize(CELLS, [rectBetween({ row: 0, col: 0 }, { row: 1, col: 1 }), rectBetween({ row: 0, col: 1 }, { row: 1, col: 2 })]);
    expect(s).toEqual({ suffix: "--0.0.1.1--0.1.1.2", allotments: 5, bytes: 310 });
    expect(summarize(CELLS, [{ x1: 1, y1: 1, x2: 1, y2: 1 }])).toEqual({ suffix: "--1.1.1.1", allotments: 0, bytes: 0 });
  });

  test("the suffix leaves out a rectangle given twice", () => {
    const r = rectBetween({ row: 0, col: 0 }, { row: 0, col: 0 });
    expect(summarize(CELLS, [r, r]).suffix).toBe("--0.0.0.0");
  });

  test("typed suffixes: --, the paper's +, a bare rectangle, nothing", () => {
    expect(parseSuffix("--0.0.1.1--1.2.1.2")).toEqual([{ x1: 0, y1: 0, x2: 1, y2: 1 }, { x1: 1, y1: 2, x2: 1, y2: 2 }]);
    expect(parseSuffix("+0.1.0.2")).toEqual([{ x1: 0, y1: 1, x2: 0, y2: 2 }]);
    expect(parseSuffix(" 1.0.1.0 ")).toEqual([{ x1: 1, y1: 0, x2: 1, y2: 0 }]);
    expect(parseSuffix("")).toEqual([]);
  });

  test("a malformed suffix gives the registry's message", () => {
    expect(() => parseSuffix("--1.0.0.0")).toThrow("first row 1 is after last row 0");
    expect(() => parseSuffix("--0.0.1")).toThrow('malformed partition "0.0.1"');
  });

  test("bytes in decimal units", () => {
    expect([formatBytes(999), formatBytes(1000), formatBytes(12_800), formatBytes(250_000_000)]).toEqual(["999 B", "1.0 kB", "12.8 kB", "250 MB"]);
  });
});
