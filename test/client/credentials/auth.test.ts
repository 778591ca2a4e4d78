import { describe, expect, test } from "bun:test";
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseAuthenticateHeader } from "../../../src/client/credentials/auth.ts";
import { readCredentials, removeCredentials, saveCredentials, toConfigKey } from "../../../src/client/credentials/docker-config.ts";
import { isLoopbackHost } from "../../../src/client/transport/registry-client.ts";

describe("WWW-Authenticate parsing", () => {
  test("reads a bearer challenge with quoted, comma-containing scope", () => {
    const [c] = parseAuthenticateHeader('Bearer realm="https://auth.example/token",service="registry.example",scope="repository:a/b:pull,push"');
    expect(c).toEqual({ scheme: "bearer", params: { realm: "https://auth.example/token", service: "registry.example", scope: "repository:a/b:pull,push" } });
  });
  test("reads basic and several challenges", () => {
    const cs = parseAuthenticateHeader('Basic realm="x", Bearer realm="y",service=z');
    expect(cs.map((c) => c.scheme)).toEqual(["basic", "bearer"]);
    expect(cs[1]!.params).toEqual({ realm: "y", service: "z" });
  });
});

describe("docker config credentials", () => {
  test("round trip keeps other keys, reads docker's key spellings, and removes", async () => {
    const dir = await mkdtemp(join(tmpdir(), "2dfs-dockercfg-"));
    const path = join(dir, "config.json");
    try {
      await writeFile(path, JSON.stringify({ auths: { "https://reg.example/v1/": { auth: Buffer.from("bob:pw").toString("base64") } }, HttpHeaders: { a: "b" } }));
      expect(await readCredentials("reg.example", path)).toEqual({ username: "bob", password: "pw" });
      expect(await readCredentials("other.example", path)).toBeUndefined();
      await saveCredentials("127.0.0.1:5000", { username: "u", password: "p:q" }, path);
      expect(await readCredentials("127.0.0.1:5000", path)).toEqual({ username: "u", password: "p:q" });
      const doc = JSON.parse(await readFile(path, "utf8"));
      expect(doc.HttpHeaders).toEqual({ a: "b" });
      expect(await removeCredentials("127.0.0.1:5000", path)).toBe(true);
      expect(await removeCredentials("127.0.0.1:5000", path)).toBe(false);
      expect(await readCredentials("reg.example", path)).toEqual({ username: "bob", password: "pw" });
      expect(toConfigKey("docker.io")).toBe("https://index.docker.io/v1/");
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
  test("plain HTTP only for loopback hosts", () => {
    expect(isLoopbackHost("127.0.0.1:5000")).toBe(true);
    expect(isLoopbackHost("localhost")).toBe(true);
    expect(isLoopbackHost("[::1]:5000")).toBe(true);
    expect(isLoopbackHost("registry.example:5000")).toBe(false);
    expect(isLoopbackHost("127.0.0.1.nip.io")).toBe(false);
  });
});
