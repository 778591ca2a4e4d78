/** The page's API calls against the registry in-process (fetch is pointed at the app). */
import { afterEach, describe, expect, test } from "bun:test";
import { listLayerFiles, listRepositories, listTags } from "../../../src/registry/ui/page/api.ts";
import { createCellFiles, toFilesText } from "../../../src/registry/ui/page/cell-files.ts";
import { makeTar } from "../../client/support/layers.ts";
import { createTestClient, pushImageParts } from "../helpers.ts";

const realFetch = globalThis.fetch;
afterEach(() => {
  globalThis.fetch = realFetch;
});

/** Points the page's relative fetches at `c`, recording each path asked for. */
function route(c: ReturnType<typeof createTestClient>): string[] {
  const paths: string[] = [];
  globalThis.fetch = (async (input: string, init?: RequestInit) => {
    paths.push(input);
    return c.app.handle(new Request(`http://registry.test${input}`, init));
  }) as typeof fetch;
  return paths;
}

describe("the page's API calls", () => {
  test("tags are listed page by page, following the Link header to the end", async () => {
    const c = createTestClient({ ui: true });
    const manifest = await pushImageParts(c, "team/model");
    const tags = ["a", "b", "c", "d", "e"];
    for (const t of tags) await c.pushManifest("team/model", t, manifest);
    const paths = route(c);
    expect(await listTags("team/model", 2)).toEqual(tags);
    expect(paths).toEqual(["/v2/team/model/tags/list?n=2", "/v2/team/model/tags/list?n=2&last=b", "/v2/team/model/tags/list?n=2&last=d"]);
  });

  test("the catalog reports each page as it arrives", async () => {
    const c = createTestClient({ ui: true });
    const manifest = await pushImageParts(c, "one");
    await c.pushManifest("one", "v1", manifest);
    route(c);
    const pages: string[][] = [];
    expect(await listRepositories((p) => pages.push(p))).toEqual(["one"]);
    expect(pages).toEqual([["one"]]);
  });

  test("a layer's files, and the registry's detail when it refuses", async () => {
    const c = createTestClient({ ui: true });
    const digest = await c.pushBlob("m", await makeTar([{ name: "w/a.bin", content: "abc" }]));
    route(c);
    expect(await listLayerFiles("m", digest)).toEqual({ files: [{ path: "/w/a.bin", size: 3 }], truncated: false });
    await expect(listLayerFiles("other", digest)).rejects.toThrow(`blob ${digest} is not in other`);
  });
});

describe("cell file names", () => {
  test("described as the build history does: three names and how many more", () => {
    const f = (n: number) => Array.from({ length: n }, (_, i) => ({ path: `/f${i}`, size: 1 }));
    expect(toFilesText({ files: [], truncated: false })).toBe("no regular files");
    expect(toFilesText({ files: f(2), truncated: false })).toBe("/f0 /f1");
    expect(toFilesText({ files: f(3), truncated: false })).toBe("/f0 /f1 /f2");
    expect(toFilesText({ files: f(5), truncated: false })).toBe("/f0 /f1 /f2 (+2 more)");
    expect(toFilesText({ files: f(1000), truncated: true })).toBe("/f0 /f1 /f2 (+ more than 997)");
  });

  test("each layer is asked for once; a failure is asked again", async () => {
    const asked: string[] = [];
    let fail = true;
    const files = createCellFiles(async (name, digest) => {
      asked.push(`${name}@${digest}`);
      if (fail) throw new Error("down");
      return { files: [{ path: "/x", size: 1 }], truncated: false };
    });
    await expect(files.text("m", "sha256:1")).rejects.toThrow("down");
    fail = false;
    expect(await files.text("m", "sha256:1")).toBe("/x");
    expect(await Promise.all([files.text("m", "sha256:1"), files.text("m", "sha256:1")])).toEqual(["/x", "/x"]);
    expect(asked).toEqual(["m@sha256:1", "m@sha256:1"]);
  });
});
