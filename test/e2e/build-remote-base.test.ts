/**
 * `2dfs build --base` from a registry that wants basic auth: refused without credentials,
 * built after `2dfs login` (credentials in DOCKER_CONFIG, Docker's format), and the base is
 * cached in the store: a second build downloads no base blob again.
 */
import { afterAll, beforeAll, expect, test } from "bun:test";
import { readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { run2dfs } from "../support/cli.ts";
import { seededBytes, writeTree } from "../support/temp.ts";
import { describeIfE2E, makeBusyboxBase, makeTempDir, removeTempDir, skopeo, startTdfsServer, type TdfsServer } from "./support/index.ts";

describeIfE2E("2dfs build with a registry base (e2e)", ["skopeo", "busybox"], () => {
  let dir: string;
  let server: TdfsServer;
  const env = () => ({ DOCKER_CONFIG: join(dir, "docker-config") });
  const build = (tag: string) =>
    run2dfs(["build", "-t", tag, "-f", join(dir, "ctx", "2dfs.json"), "--base", `${server.host}/library/busybox:latest`, "--store", join(dir, "store")], { env: env() });
  const blobGets = async () => (await readFile(server.logFile, "utf8")).split("\n").filter((l) => /"GET \/v2\/library\/busybox\/blobs\//.test(l)).length;

  beforeAll(async () => {
    dir = await makeTempDir("2dfs-e2e-base-");
    const hash = await Bun.password.hash("s3cret", { algorithm: "bcrypt", cost: 4 });
    await writeFile(join(dir, "htpasswd"), `builder:${hash}\n`);
    server = await startTdfsServer(["--htpasswd", join(dir, "htpasswd")]);
    const base = await makeBusyboxBase(join(dir, "base"));
    const pushed = await skopeo(["copy", "--dest-tls-verify=false", "--dest-creds", "builder:s3cret", `oci:${base.layoutDir}:${base.tag}`, `docker://${server.host}/library/busybox:latest`]);
    expect(pushed.stderr).toBe("");
    await writeTree(dir, { "ctx/w.bin": seededBytes(4096, 5), "ctx/2dfs.json": JSON.stringify({ allotments: [{ src: "w.bin", dst: "/w.bin", row: 0, col: 0 }] }) });
  });
  afterAll(async () => {
    await server?.stop();
    await removeTempDir(dir);
  });

  test("without credentials the build fails with an authentication error and names no image", async () => {
    const out = await build("remote:v1");
    expect(out.code).toBe(1);
    expect(out.stderr).toMatch(/401|auth|credential|unauthori/i);
    const ls = await run2dfs(["image", "ls", "--json", "--store", join(dir, "store")]);
    expect(JSON.parse(ls.stdout || "[]")).toEqual([]);
  });

  test("after 2dfs login the build uses the registry base; a second build downloads nothing again", async () => {
    const bad = await run2dfs(["login", server.host, "-u", "builder", "--password-stdin"], { env: env(), stdin: "wrong\n" });
    expect(bad.code).toBe(1);
    const login = await run2dfs(["login", server.host, "-u", "builder", "--password-stdin"], { env: env(), stdin: "s3cret\n" });
    expect(login.code).toBe(0);
    const config = JSON.parse(await readFile(join(dir, "docker-config", "config.json"), "utf8"));
    expect(Buffer.from(config.auths[server.host].auth, "base64").toString()).toBe("builder:s3cret");

    const first = await build("remote:v1");
    expect(first.stderr).toContain("built remote:v1");
    const inspect = JSON.parse((await run2dfs(["image", "inspect", "remote:v1", "--json", "--store", join(dir, "store")])).stdout);
    expect(inspect.platforms[0].manifest.layers.length).toBeGreaterThan(1); // busybox layers + the allotment
    const afterFirst = await blobGets();
    expect(afterFirst).toBeGreaterThan(0);

    const second = await build("remote:v2");
    expect(second.code).toBe(0);
    expect(await blobGets()).toBe(afterFirst);
  });
});
