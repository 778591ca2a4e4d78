/** The settings of `serve --upstream`: specs, prefixes, sizes, and credentials from Docker's config.json. */
import { expect, test } from "bun:test";
import { mkdtemp, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { findCredentials } from "../../src/registry/upstream/credentials.ts";
import { UpstreamOptionsError, parseSize, parseUpstreamSpec, pickUpstream } from "../../src/registry/upstream/options.ts";

test("upstream specs: URL, host:port, PREFIX=URL; paths and other schemes are refused", () => {
  expect(parseUpstreamSpec("http://127.0.0.1:5000")).toEqual({ prefix: "", url: "http://127.0.0.1:5000" });
  expect(parseUpstreamSpec("127.0.0.1:5000")).toEqual({ prefix: "", url: "http://127.0.0.1:5000" });
  expect(parseUpstreamSpec("models/=https://reg.example:443/")).toEqual({ prefix: "models/", url: "https://reg.example" });
  expect(() => parseUpstreamSpec("http://h:5000/v2/x")).toThrow(UpstreamOptionsError);
  expect(() => parseUpstreamSpec("ftp://h")).toThrow("only http:// and https://");
});

test("the longest matching prefix picks the upstream; no match means local only", () => {
  const targets = [
    { prefix: "", url: "http://all" },
    { prefix: "models/", url: "http://models" },
    { prefix: "models/big/", url: "http://big" },
  ];
  expect(pickUpstream(targets, "models/big/llm")?.url).toBe("http://big");
  expect(pickUpstream(targets, "models/x")?.url).toBe("http://models");
  expect(pickUpstream(targets, "other")?.url).toBe("http://all");
  expect(pickUpstream(targets.slice(1), "other")).toBeUndefined();
});

test("sizes", () => {
  expect(parseSize("1048576")).toBe(1 << 20);
  expect(parseSize("500M")).toBe(500 << 20);
  expect(parseSize("1.5GiB")).toBe(1.5 * 2 ** 30);
  expect(() => parseSize("lots")).toThrow("expected a size");
});

test("credentials: --upstream-user with TDFS_UPSTREAM_PASSWORD first, else Docker's config.json for the host", async () => {
  const dir = await mkdtemp(join(tmpdir(), "2dfs-upstream-cred-"));
  await writeFile(
    join(dir, "config.json"),
    JSON.stringify({ auths: { "https://reg.example:5000": { auth: btoa("alice:pa:ss") }, "other:1": { username: "bob", password: "pw" } } }),
  );
  const env = { DOCKER_CONFIG: dir, TDFS_UPSTREAM_PASSWORD: "envpw" };
  expect(findCredentials("http://reg.example:5000", "carol", env)).toEqual({ username: "carol", password: "envpw" });
  expect(findCredentials("http://reg.example:5000", undefined, env)).toEqual({ username: "alice", password: "pa:ss" });
  expect(findCredentials("http://other:1", undefined, env)).toEqual({ username: "bob", password: "pw" });
  expect(findCredentials("http://nobody:2", undefined, env)).toBeUndefined();
});
