import { describe, expect, test } from "bun:test";
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { EmptySelectionError, compareCells, describeExtent, selectAllotments, selectNonEmpty } from "../../src/field/field.ts";
import type { Rect } from "../../src/oci/partition-suffix.ts";

const r = (x1: number, y1: number, x2: number, y2: number): Rect => ({ x1, y1, x2, y2 });
const grid = (rows: number, cols: number) =>
  Array.from({ length: rows * cols }, (_, i) => ({ row: Math.floor(i / cols), col: i % cols, id: i }));

describe("compareCells", () => {
  test("row-major", () => {
    const cells = [{ row: 1, col: 0 }, { row: 0, col: 5 }, { row: 0, col: 1 }, { row: 2, col: 0 }];
    expect([...cells].sort(compareCells)).toEqual([{ row: 0, col: 1 }, { row: 0, col: 5 }, { row: 1, col: 0 }, { row: 2, col: 0 }]);
    expect(compareCells({ row: 3, col: 3 }, { row: 3, col: 3 })).toBe(0);
  });
});

describe("selectAllotments", () => {
  test("inclusive bounds, x is the row and y the column", () => {
    const picked = selectAllotments(grid(4, 4), [r(1, 2, 2, 3)]);
    expect(picked.map((c) => [c.row, c.col])).toEqual([[1, 2], [1, 3], [2, 2], [2, 3]]);
  });

  test("union without duplicates, row-major whatever the input order", () => {
    const cells = grid(3, 3).reverse();
    const picked = selectAllotments(cells, [r(0, 0, 1, 1), r(1, 1, 2, 2), r(1, 1, 1, 1)]);
    expect(picked.map((c) => [c.row, c.col])).toEqual([[0, 0], [0, 1], [1, 0], [1, 1], [1, 2], [2, 1], [2, 2]]);
  });

  test("repeated input cells are yielded once; the objects themselves are returned", () => {
    const cells = grid(1, 2);
    const picked = selectAllotments([...cells, ...cells], [r(0, 0, 0, 1)]);
    expect(picked).toEqual(cells);
    expect(picked[0]).toBe(cells[0]!);
  });

  test("nothing selected", () => {
    expect(selectAllotments(grid(2, 2), [r(5, 5, 6, 6)])).toEqual([]);
    expect(selectAllotments(grid(2, 2), [])).toEqual([]);
  });

  test("selectNonEmpty names the rectangles and the extent", () => {
    expect(() => selectNonEmpty(grid(2, 3), [r(4, 0, 4, 0)])).toThrow(EmptySelectionError);
    expect(() => selectNonEmpty(grid(2, 3), [r(4, 0, 4, 0)])).toThrow("--4.0.4.0; the field has 6 allotments in rows 0..1, columns 0..2");
    expect(() => selectNonEmpty([], [r(0, 0, 0, 0)])).toThrow("the field has no allotments");
  });

  test("describeExtent", () => {
    expect(describeExtent([{ row: 3, col: 7 }])).toBe("the field has 1 allotment in rows 3..3, columns 7..7");
  });
});

describe("src/field stays pure", () => {
  test("imports only from src/oci and itself, and uses no Bun API", () => {
    const dir = join(import.meta.dir, "../../src/field");
    for (const file of readdirSync(dir).filter((f) => f.endsWith(".ts"))) {
      const source = readFileSync(join(dir, file), "utf8");
      for (const [, spec] of source.matchAll(/from\s+"([^"]+)"/g)) {
        expect(`${file}: ${spec}`).toMatch(/: (\.\/|\.\.\/oci\/)[a-z-]+\.ts$/);
      }
      expect(source).not.toMatch(/\bBun\./);
    }
  });
});
