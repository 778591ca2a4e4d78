import { describe, expect, test } from "bun:test";
import { manifestPathReference, parseReference, ReferenceError, toFamiliarString, toReferenceString } from "../../src/oci/reference.ts";

const HEX = "a".repeat(64);

describe("parseReference (Docker's normalisation)", () => {
  const cases: [string, string][] = [
    ["ubuntu", "docker.io/library/ubuntu:latest"],
    ["ubuntu:22.04", "docker.io/library/ubuntu:22.04"],
    ["user/app", "docker.io/user/app:latest"],
    ["ghcr.io/org/app:v1", "ghcr.io/org/app:v1"],
    ["127.0.0.1:5000/repo:tag", "127.0.0.1:5000/repo:tag"],
    ["localhost/repo", "localhost/repo:latest"],
    ["localhost:5000/a/b/c:1.0", "localhost:5000/a/b/c:1.0"],
    [`busybox@sha256:${HEX}`, `docker.io/library/busybox@sha256:${HEX}`],
    [`127.0.0.1:5000/r:t@sha256:${HEX}`, `127.0.0.1:5000/r:t@sha256:${HEX}`],
  ];
  for (const [input, full] of cases) {
    test(`${input} -> ${full}`, () => expect(toReferenceString(parseReference(input))).toBe(full));
  }

  test("partition suffixes in both forms, chained, are a union of rectangles", () => {
    const plus = parseReference("img:tag+1.0.2.1");
    const dash = parseReference("img:tag--1.0.2.1");
    expect(plus.tag).toBe("tag");
    expect(plus.rects).toEqual([{ x1: 1, y1: 0, x2: 2, y2: 1 }]);
    expect(dash.rects).toEqual(plus.rects!);
    const chained = parseReference("127.0.0.1:5000/m:v1--0.0.1.1+3.0.3.2");
    expect(chained.rects).toEqual([
      { x1: 0, y1: 0, x2: 1, y2: 1 },
      { x1: 3, y1: 0, x2: 3, y2: 2 },
    ]);
    expect(manifestPathReference(chained)).toBe("v1--0.0.1.1--3.0.3.2");
  });

  test("a tag that merely contains -- is a plain tag", () => {
    const ref = parseReference("img:my--tag");
    expect(ref.tag).toBe("my--tag");
    expect(ref.rects).toBeUndefined();
  });

  test("familiar form drops docker.io/library", () => {
    expect(toFamiliarString(parseReference("ubuntu"))).toBe("ubuntu:latest");
    expect(toFamiliarString(parseReference("127.0.0.1:5000/x:y--0.0.0.0"))).toBe("127.0.0.1:5000/x:y--0.0.0.0");
  });

  test("an https:// or http:// prefix forces the scheme and always names the registry", () => {
    const tls = parseReference("https://127.0.0.1:5000/model:v1--0.0.1.1");
    expect(tls).toEqual({ scheme: "https", registry: "127.0.0.1:5000", repository: "model", tag: "v1", rects: [{ x1: 0, y1: 0, x2: 1, y2: 1 }] });
    expect(parseReference("HTTP://localhost:5000/a/b").scheme).toBe("http");
    // With a scheme the first component is the host even without a dot or a port.
    expect(parseReference("https://registry/app:1")).toEqual({ scheme: "https", registry: "registry", repository: "app", tag: "1" });
    expect(toReferenceString(tls)).toBe("https://127.0.0.1:5000/model:v1--0.0.1.1");
    expect(toFamiliarString(tls)).toBe("127.0.0.1:5000/model:v1--0.0.1.1");
    expect(parseReference("127.0.0.1:5000/model").scheme).toBeUndefined();
  });

  const bad: [string, RegExp][] = [
    ["https://127.0.0.1:5000", /names no repository after the registry/],
    ["http:///repo", /names no repository after the registry/],
    ["https://127.0.0.1:5000/", /invalid repository name/],
    ["", /empty/],
    ["UPPER/case", /invalid repository name/],
    ["img:tag--0.0.1", /malformed partition "0.0.1"/],
    ["img:tag+a.b.c.d", /malformed partition/],
    ["img:tag--2.0.1.0", /first row 2 is after last row 1/],
    ["img:tag--0.3.0.1", /first column 3 is after last column 1/],
    ["img@sha256:xyz", /invalid digest/],
    ["img:-bad", /invalid tag/],
    [`img:${"t".repeat(129)}`, /invalid tag/],
  ];
  for (const [input, message] of bad) {
    test(`rejects ${JSON.stringify(input.slice(0, 40))}`, () => {
      expect(() => parseReference(input)).toThrow(ReferenceError);
      expect(() => parseReference(input)).toThrow(message);
    });
  }
});
