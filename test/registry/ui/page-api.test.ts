/** The page's API calls against the registry in-process (fetch is pointed at the app). */
import { afterEach, describe, expect, test } from "bun:test";
import { listRepositories, listTags } from "../../../src/registry/ui/page/api.ts";
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
});
