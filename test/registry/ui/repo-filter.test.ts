import { describe, expect, test } from "bun:test";
import { MAX_SHOWN_REPOSITORIES, SEARCH_LOAD_LIMIT, filterRepositories, searchTagLoads } from "../../../src/registry/ui/page/repo-filter.ts";

const REPOS = ["e2e/big", "e2e/model", "e2e/multi", "lib/busybox"];
const none = new Set<string>();

describe("repository list filter", () => {
  test("without a search every repository is listed, closed, with no tags known", () => {
    const { entries, hidden } = filterRepositories(REPOS, new Map(), "", none);
    expect(entries).toEqual(REPOS.map((name) => ({ name, open: false })));
    expect(hidden).toBe(0);
  });

  test("an opened repository shows its loaded tags, or none yet (loading)", () => {
    const tags = new Map([["e2e/model", ["v1", "v2"]]]);
    const { entries } = filterRepositories(REPOS, tags, "", new Set(["e2e/model", "e2e/multi"]));
    expect(entries.find((e) => e.name === "e2e/model")).toEqual({ name: "e2e/model", open: true, tags: ["v1", "v2"] });
    expect(entries.find((e) => e.name === "e2e/multi")).toEqual({ name: "e2e/multi", open: true });
  });

  test("a search keeps repositories whose name holds it, and those with a loaded tag that does (opened on those tags)", () => {
    const tags = new Map([
      ["lib/busybox", ["1.36", "model-test"]],
      ["e2e/model", ["v1"]],
    ]);
    const { entries } = filterRepositories(REPOS, tags, "MODEL", none);
    expect(entries).toEqual([
      { name: "e2e/model", open: false, tags: ["v1"] },
      { name: "lib/busybox", open: true, tags: ["model-test"] },
    ]);
    // Closed by the user while the search opened it.
    expect(filterRepositories(REPOS, tags, "model", none, new Set(["lib/busybox"])).entries[1]!.open).toBe(false);
  });

  test("a search loads the tags of the repositories it names only when it names few", () => {
    expect(searchTagLoads(REPOS, "mu")).toEqual(["e2e/multi"]);
    expect(searchTagLoads(REPOS, "  ")).toEqual([]);
    const many = Array.from({ length: SEARCH_LOAD_LIMIT + 1 }, (_, i) => `team/r${i}`);
    expect(searchTagLoads(many, "team")).toEqual([]);
    expect(searchTagLoads(many.slice(1), "team")).toHaveLength(SEARCH_LOAD_LIMIT);
  });

  test(`at most ${MAX_SHOWN_REPOSITORIES} repositories are drawn; the rest are counted`, () => {
    const many = Array.from({ length: MAX_SHOWN_REPOSITORIES + 7 }, (_, i) => `r/${String(i).padStart(4, "0")}`);
    const { entries, hidden } = filterRepositories(many, new Map(), "", none);
    expect(entries).toHaveLength(MAX_SHOWN_REPOSITORIES);
    expect(hidden).toBe(7);
    expect(filterRepositories(many, new Map(), "0001", none)).toEqual({ entries: [{ name: "r/0001", open: false }], hidden: 0 });
  });
});
