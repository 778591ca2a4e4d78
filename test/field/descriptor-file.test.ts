import { describe, expect, test } from "bun:test";
import { FieldDescriptorError, normalizeDst, parseFieldDescriptor } from "../../src/field/descriptor-file.ts";
import { MAX_FIELD_INDEX } from "../../src/oci/partition-suffix.ts";

const FILE = "2dfs.json";
const parse = (doc: unknown) => parseFieldDescriptor(typeof doc === "string" ? doc : JSON.stringify(doc), FILE);
const one = (entry: Record<string, unknown>) => parse({ allotments: [entry] });
const ok = { src: "./a.bin", dst: "/model/a.bin", row: 0, col: 0 };

function expectError(fn: () => unknown, ...parts: (string | RegExp)[]): FieldDescriptorError {
  let caught: unknown;
  try {
    fn();
  } catch (e) {
    caught = e;
  }
  expect(caught).toBeInstanceOf(FieldDescriptorError);
  const error = caught as FieldDescriptorError;
  for (const p of parts) {
    if (typeof p === "string") expect(error.message).toContain(p);
    else expect(error.message).toMatch(p);
  }
  return error;
}

describe("parseFieldDescriptor: valid input", () => {
  test("string and list forms", () => {
    const { allotments, warnings } = parse({
      allotments: [
        { src: "./split0.bin", dst: "/model/split0.bin", row: 0, col: 0 },
        { src: ["./a.so", "./b.so"], dst: ["/drivers/a.so", "/drivers/b.so"], row: 1, col: 0 },
      ],
    });
    expect(warnings).toEqual([]);
    expect(allotments).toEqual([
      { entry: 0, row: 0, col: 0, src: ["./split0.bin"], dst: ["/model/split0.bin"] },
      { entry: 1, row: 1, col: 0, src: ["./a.so", "./b.so"], dst: ["/drivers/a.so", "/drivers/b.so"] },
    ]);
  });

  test("src strings are returned exactly as given", () => {
    const { allotments } = one({ src: "../weird//path/./x*.bin", dst: "/x/", row: 0, col: 0 });
    expect(allotments[0]!.src).toEqual(["../weird//path/./x*.bin"]);
  });

  test("dst is normalised and keeps a trailing slash for directories", () => {
    const { allotments } = one({ src: ["a", "b"], dst: ["//model/./a.bin", "/model//sub/"], row: 2, col: 3 });
    expect(allotments[0]!.dst).toEqual(["/model/a.bin", "/model/sub/"]);
  });

  test("a list of sources may share one directory destination", () => {
    const { allotments } = one({ src: ["a", "b", "c"], dst: "/lib/", row: 0, col: 0 });
    expect(allotments[0]!.dst).toEqual(["/lib/", "/lib/", "/lib/"]);
  });

  test("two allotments may write into the same directory", () => {
    const { allotments } = parse({
      allotments: [
        { src: "a", dst: "/model/", row: 0, col: 0 },
        { src: "b", dst: "/model/", row: 0, col: 1 },
        { src: "c", dst: "/model/c.bin", row: 0, col: 2 },
      ],
    });
    expect(allotments).toHaveLength(3);
  });

  test("sibling paths sharing a prefix are not a parent clash", () => {
    expect(() => parse({ allotments: [ok, { src: "b", dst: "/model/a.bin2", row: 0, col: 1 }] })).not.toThrow();
    expect(() => parse({ allotments: [{ ...ok, dst: "/model/a" }, { src: "b", dst: "/model/ab/c", row: 0, col: 1 }] })).not.toThrow();
  });

  test("row and col at the limit are accepted; order of entries is kept", () => {
    const { allotments } = parse({
      allotments: [
        { src: "a", dst: "/a", row: MAX_FIELD_INDEX, col: MAX_FIELD_INDEX },
        { src: "b", dst: "/b", row: 0, col: 0 },
      ],
    });
    expect(allotments.map((a) => a.entry)).toEqual([0, 1]);
    expect(allotments[0]!.row).toBe(MAX_FIELD_INDEX);
  });
});

describe("parseFieldDescriptor: warnings", () => {
  test("unknown keys in an entry", () => {
    const { warnings, allotments } = parse({ allotments: [ok, { ...ok, row: 1, dst: "/b", foo: 1, bar: "x" }] });
    expect(allotments).toHaveLength(2);
    expect(warnings).toEqual([`${FILE} entry 1: unknown key "foo" ignored`, `${FILE} entry 1: unknown key "bar" ignored`]);
  });

  test("unknown top-level key", () => {
    const { warnings } = parse({ allotments: [ok], version: 2 });
    expect(warnings).toEqual([`${FILE}: unknown top-level key "version" ignored`]);
  });

  test("an empty allotments list warns but parses", () => {
    const { warnings, allotments } = parse({ allotments: [] });
    expect(allotments).toEqual([]);
    expect(warnings).toHaveLength(1);
    expect(warnings[0]).toContain("empty");
  });
});

describe("parseFieldDescriptor: document errors", () => {
  test("invalid JSON names line and column", () => {
    const error = expectError(() => parse('{\n  "allotments": [\n    {"src": "a",}\n  ]\n}'), FILE, "invalid JSON", /line 3, column \d+/);
    expect(error.entry).toBeUndefined();
  });

  test("top level not an object", () => {
    expectError(() => parse("[]"), FILE, "top level must be an object");
    expectError(() => parse("42"), "top level must be an object");
    expectError(() => parse("null"), "top level must be an object");
  });

  test("allotments missing or not a list", () => {
    expectError(() => parse({}), 'missing the "allotments" list');
    expectError(() => parse({ allotments: { a: 1 } }), '"allotments" must be a list');
    expectError(() => parse({ allotments: "x" }), '"allotments" must be a list');
  });

  test("entry not an object", () => {
    const error = expectError(() => parse({ allotments: [ok, "x"] }), `${FILE} entry 1: must be an object`);
    expect(error.entry).toBe(1);
    expectError(() => parse({ allotments: [null] }), "entry 0: must be an object");
    expectError(() => parse({ allotments: [[ok]] }), "entry 0: must be an object");
  });
});

describe("parseFieldDescriptor: row and col", () => {
  for (const key of ["row", "col"] as const) {
    test(`${key} missing`, () => {
      const { [key]: _, ...rest } = ok;
      const error = expectError(() => one(rest), `${FILE} entry 0: missing "${key}"`);
      expect(error.entry).toBe(0);
    });
    test(`${key} negative`, () => void expectError(() => one({ ...ok, [key]: -1 }), `"${key}" must not be negative`));
    test(`${key} not an integer`, () => void expectError(() => one({ ...ok, [key]: 1.5 }), `"${key}" must be an integer`));
    test(`${key} a string`, () => void expectError(() => one({ ...ok, [key]: "1" }), `"${key}" must be a number`));
    test(`${key} null`, () => void expectError(() => one({ ...ok, [key]: null }), `"${key}" must be a number`));
    test(`${key} over the limit`, () => void expectError(() => one({ ...ok, [key]: MAX_FIELD_INDEX + 1 }), `over the limit of ${MAX_FIELD_INDEX}`));
    test(`${key} huge exponent`, () => void expectError(() => parse(`{"allotments":[{"src":"a","dst":"/a","row":0,"col":0,"${key}":1e400}]}`), "must be a number"));
  }

  test("duplicate cell names both entries", () => {
    const error = expectError(
      () => parse({ allotments: [ok, { src: "b", dst: "/b", row: 1, col: 1 }, { src: "c", dst: "/c", row: 0, col: 0 }] }),
      `${FILE} entry 2 (row 0, col 0)`,
      "already used by entry 0",
    );
    expect(error.entry).toBe(2);
  });
});

describe("parseFieldDescriptor: src and dst", () => {
  test("messages name entry, row and col", () => {
    const error = expectError(() => parse({ allotments: [ok, { ...ok, col: 1, dst: "/b" }, { ...ok, col: 2, dst: "/c" }, { row: 1, col: 0, dst: "/x" }] }), `${FILE} entry 3 (row 1, col 0): missing "src"`);
    expect(error.entry).toBe(3);
  });

  test("missing src or dst", () => {
    expectError(() => one({ dst: "/a", row: 0, col: 0 }), 'missing "src"');
    expectError(() => one({ src: "a", row: 0, col: 0 }), 'missing "dst"');
  });

  test("wrong types", () => {
    expectError(() => one({ ...ok, src: 5 }), "src must be a string or a list of strings");
    expectError(() => one({ ...ok, dst: { a: 1 } }), "dst must be a string or a list of strings");
    expectError(() => one({ ...ok, src: ["a", 1], dst: ["/a", "/b"] }), "src[1] must be a string");
    expectError(() => one({ ...ok, src: ["a", "b"], dst: ["/a", null] }), "dst[1] must be a string");
  });

  test("empty lists and empty strings", () => {
    expectError(() => one({ ...ok, src: [], dst: [] }), "src must not be an empty list");
    expectError(() => one({ ...ok, src: ["a"], dst: [] }), "dst must not be an empty list");
    expectError(() => one({ ...ok, src: "" }), "src must not be empty");
    expectError(() => one({ ...ok, src: ["a", ""], dst: ["/a", "/b"] }), "src[1] must not be empty");
    expectError(() => one({ ...ok, dst: "" }), "dst must not be empty");
  });

  test("NUL characters", () => {
    expectError(() => one({ ...ok, src: "a\u0000b" }), "src contains a NUL");
    expectError(() => one({ ...ok, dst: "/a\u0000b" }), "NUL");
  });

  test("length mismatch and shape mismatch", () => {
    expectError(() => one({ ...ok, src: ["a", "b"], dst: ["/a"] }), "src has 2 paths but dst has 1");
    expectError(() => one({ ...ok, src: ["a", "b"], dst: "/a" }), "src is a list of 2 but dst is one path");
    expectError(() => one({ ...ok, src: "a", dst: ["/a", "/b"] }), "dst is a list but src is one string");
  });

  test("dst not absolute", () => {
    expectError(() => one({ ...ok, dst: "model/a.bin" }), "must be an absolute path");
    expectError(() => one({ ...ok, dst: "./a" }), "must be an absolute path");
  });

  test("dst with .. components (escaping /)", () => {
    expectError(() => one({ ...ok, dst: "/model/../a" }), '".." components');
    expectError(() => one({ ...ok, dst: "/../etc/passwd" }), '".." components');
    expectError(() => one({ ...ok, dst: "/a/.." }), '".." components');
    const error = expectError(() => one({ ...ok, src: ["a", "b"], dst: ["/ok", "/x/../../y"] }), "dst[1]", '".."');
    expect(error.entry).toBe(0);
  });

  test("dst equal to the root", () => {
    for (const dst of ["/", "//", "/./", "/.", "/./."]) expectError(() => one({ ...ok, dst }), "root directory");
  });

  test("two allotments writing the same file name both", () => {
    const error = expectError(
      () => parse({ allotments: [ok, { src: "b", dst: "/model//a.bin", row: 0, col: 1 }] }),
      `${FILE} entry 1 (row 0, col 1) dst`,
      "written twice by two allotments",
      `${FILE} entry 0 (row 0, col 0)`,
    );
    expect(error.entry).toBe(1);
  });

  test("two entries of one allotment writing the same file", () => {
    expectError(
      () => one({ ...ok, src: ["a", "b"], dst: ["/x/a", "/x/./a"] }),
      "entry 0 (row 0, col 0) dst[1]",
      "written twice in one allotment",
      "dst[0]",
    );
  });

  test("a file dst that is the parent of another dst", () => {
    expectError(
      () => parse({ allotments: [{ ...ok, dst: "/model" }, { src: "b", dst: "/model/a.bin", row: 1, col: 0 }] }),
      "entry 1 (row 1, col 0)",
      "/model/a.bin lies below /model, which is written as a file",
      "entry 0 (row 0, col 0)",
    );
    expectError(
      () => parse({ allotments: [{ src: "b", dst: "/m/x/y/z", row: 1, col: 0 }, { ...ok, dst: "/m/x" }] }),
      "lies below /m/x",
    );
    expectError(() => parse({ allotments: [{ ...ok, dst: "/model" }, { src: "b", dst: "/model/sub/", row: 1, col: 0 }] }), "lies below /model");
  });

  test("a file dst that is also a directory destination", () => {
    expectError(() => parse({ allotments: [{ ...ok, dst: "/model" }, { src: "b", dst: "/model/", row: 1, col: 0 }] }), "directory /model/ is also written as a file");
    expectError(() => parse({ allotments: [{ ...ok, dst: "/model/" }, { src: "b", dst: "/model", row: 1, col: 0 }] }), "also a directory destination");
  });
});

describe("normalizeDst", () => {
  test("normalises", () => {
    expect(normalizeDst("/a//b/./c")).toBe("/a/b/c");
    expect(normalizeDst("/a/b/")).toBe("/a/b/");
    expect(normalizeDst("/a/b//")).toBe("/a/b/");
    expect(normalizeDst("/a/b/.")).toBe("/a/b/");
    expect(normalizeDst("/a/.b/..c/...")).toBe("/a/.b/..c/...");
  });
  test("rejects", () => {
    for (const bad of ["", "a", "/", "/..", "/a/../b", "/a\0"]) expect(() => normalizeDst(bad)).toThrow(FieldDescriptorError);
  });
});
