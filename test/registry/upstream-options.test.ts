/** The settings of `serve --upstream`: specs, prefixes, sizes, and credentials from Docker's config.json. */
import { expect, test } from "bun:test";
import { chmod, mkdtemp, writeFile } from "node:fs/promises";
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
  expect(await findCredentials("http://reg.example:5000", "carol", env)).toEqual({ username: "carol", password: "envpw" });
  expect(await findCredentials("http://reg.example:5000", undefined, env)).toEqual({ username: "alice", password: "pa:ss" });
  expect(await findCredentials("http://other:1", undefined, env)).toEqual({ username: "bob", password: "pw" });
  expect(await findCredentials("http://nobody:2", undefined, env)).toBeUndefined();
});

test("credentials: Docker's credential helpers, credHelpers for the host before credsStore, before auths", async () => {
  const dir = await mkdtemp(join(tmpdir(), "2dfs-upstream-helper-"));
  // Two helpers on PATH that answer for one server each, as docker-credential-helpers do.
  const helper = (answers: Record<string, string>) => `#!/bin/sh
[ "$1" = get ] || exit 2
server=$(cat)
case "$server" in
${Object.entries(answers).map(([server, user]) => `  ${server}) printf '{"ServerURL":"%s","Username":"${user}","Secret":"${user}-secret"}' "$server" ;;`).join("\n")}
  *) echo "credentials not found in native keychain"; exit 1 ;;
esac
`;
  await writeFile(join(dir, "docker-credential-keychain"), helper({ "reg.example:5000": "dana" }));
  await writeFile(join(dir, "docker-credential-store"), helper({ "other:1": "erin", "reg.example:5000": "wrong" }));
  await chmod(join(dir, "docker-credential-keychain"), 0o755);
  await chmod(join(dir, "docker-credential-store"), 0o755);
  await writeFile(
    join(dir, "config.json"),
    JSON.stringify({ credHelpers: { "reg.example:5000": "keychain" }, credsStore: "store", auths: { "third:3": { username: "fay", password: "pw" } } }),
  );
  const env = { DOCKER_CONFIG: dir };
  const savedPath = process.env.PATH;
  process.env.PATH = `${dir}:${savedPath}`;
  try {
    expect(await findCredentials("http://reg.example:5000", undefined, env)).toEqual({ username: "dana", password: "dana-secret" });
    expect(await findCredentials("http://other:1", undefined, env)).toEqual({ username: "erin", password: "erin-secret" });
    // The store holds nothing for it: the auths entry answers.
    expect(await findCredentials("http://third:3", undefined, env)).toEqual({ username: "fay", password: "pw" });
    await writeFile(join(dir, "config.json"), JSON.stringify({ credsStore: "missing" }));
    await expect(findCredentials("http://other:1", undefined, env)).rejects.toThrow('docker-credential-missing is not on PATH');
  } finally {
    process.env.PATH = savedPath;
  }
});
