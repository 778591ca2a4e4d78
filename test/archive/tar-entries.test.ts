import { describe, expect, test } from "bun:test";
import { planTarEntries, TarPlanError, type LayerFile } from "../../src/archive/tar-entries.ts";

const file = (dst: string, size = 1, executable = false): LayerFile => ({ src: `/src${dst}`, dst, size, executable });

describe("planTarEntries", () => {
  test("adds each parent directory once, sorted by path", () => {
    const entries = planTarEntries([file("/b/y/z.bin"), file("/a.txt", 3, true), file("/b/x.bin"), file("/b/y/a.bin")]);
    expect(entries.map((e) => e.path)).toEqual(["a.txt", "b/", "b/x.bin", "b/y/", "b/y/a.bin", "b/y/z.bin"]);
    expect(entries.find((e) => e.path === "b/")).toEqual({ path: "b/", type: "dir", mode: 0o755, size: 0 });
    expect(entries.find((e) => e.path === "a.txt")).toEqual({ path: "a.txt", type: "file", mode: 0o755, size: 3, src: "/src/a.txt" });
    expect(entries.find((e) => e.path === "b/x.bin")?.mode).toBe(0o644);
  });

  test("sorts by UTF-8 bytes, not UTF-16 code units", () => {
    // U+FF21 (EF BC A1) sorts before U+1F600 (F0 9F 98 80) in bytes, after it in UTF-16 units.
    const entries = planTarEntries([file("/\u{1F600}"), file("/\uFF21"), file("/a-b"), file("/a/c")]);
    expect(entries.map((e) => e.path)).toEqual(["a-b", "a/", "a/c", "\uFF21", "\u{1F600}"]);
  });

  test("the order does not depend on the input order", () => {
    const files = [file("/m/3"), file("/m/1"), file("/z"), file("/m/n/2")];
    expect(planTarEntries(files)).toEqual(planTarEntries([...files].reverse()));
  });

  test("rejects duplicates and file/directory clashes", () => {
    expect(() => planTarEntries([file("/a/b"), file("/a/b")])).toThrow(TarPlanError);
    expect(() => planTarEntries([file("/a"), file("/a/b")])).toThrow(/both a file and a directory/);
    expect(() => planTarEntries([file("/a/b"), file("/a")])).toThrow(/both a file and a directory/);
  });

  test("rejects destinations that are not absolute and normalised", () => {
    for (const dst of ["a/b", "/", "/a/", "/a//b", "/a/./b", "/a/../b", "/.."]) {
      expect(() => planTarEntries([file(dst)])).toThrow(TarPlanError);
    }
    expect(() => planTarEntries([file("/a", -1)])).toThrow(TarPlanError);
  });

  test("empty input gives an empty plan", () => {
    expect(planTarEntries([])).toEqual([]);
  });
});
