/** `2dfs export` loaded by real Docker: what `docker load` of Debian's Docker 20.10 must accept, and run. */
import { afterAll, beforeAll, expect, test } from "bun:test";
import { join } from "node:path";
import { run2dfs } from "../support/cli.ts";
import { writeTree } from "../support/temp.ts";
import { type DockerdHandle, describeIfE2E, makeBusyboxBase, makeTempDir, must, removeTempDir, startDockerd } from "./support/index.ts";

describeIfE2E("2dfs export into docker load (e2e)", ["docker", "dockerd", "busybox"], () => {
  let dir: string;
  let dockerd: DockerdHandle;
  const store = () => join(dir, "store");
  const ok2dfs = (args: string[]) => must(`2dfs ${args.join(" ")}`, run2dfs([...args, "--store", store()]));
  const docker = (args: string[]) => must(`docker ${args.join(" ")}`, dockerd.docker(args));

  beforeAll(async () => {
    dir = await makeTempDir("2dfs-e2e-export-");
    dockerd = await startDockerd();
    const base = await makeBusyboxBase(join(dir, "busybox"));
    await writeTree(dir, {
      "ctx/a.txt": "allotment a\n".repeat(1000),
      "ctx/b.txt": "allotment b\n".repeat(1000),
      "ctx/2dfs.json": JSON.stringify({
        allotments: [
          { src: "a.txt", dst: "/field/a.txt", row: 0, col: 0 },
          { src: "b.txt", dst: "/field/b.txt", row: 0, col: 1 },
        ],
      }),
    });
    await ok2dfs(["build", "-t", "exp/zstd:v1", "-f", join(dir, "ctx", "2dfs.json"), "--base", `oci:${base.layoutDir}:${base.tag}`, "--compression", "zstd", "--quiet"]);
  });
  afterAll(async () => {
    await dockerd?.stop();
    await removeTempDir(dir);
  });

  test("zstd layers, docker format: docker load (20.10, no zstd) takes it and the partition runs with its files", async () => {
    const tar = join(dir, "zstd.tar");
    await ok2dfs(["export", "exp/zstd:v1--0.1.0.1", "-o", tar]);
    const loaded = await docker(["load", "-i", tar]);
    expect(loaded).toContain("Loaded image: exp/zstd:v1--0.1.0.1");
    const out = await docker(["run", "--rm", "--network", "none", "exp/zstd:v1--0.1.0.1", "sh", "-c", "find /field -type f; head -1 /field/b.txt; test -x /bin/busybox && echo base-ok"]);
    expect(out.trim().split("\n")).toEqual(["/field/b.txt", "allotment b", "base-ok"]);
  });
});
