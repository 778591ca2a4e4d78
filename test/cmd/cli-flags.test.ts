/** Flags as users type them: `--no-cache` help and behaviour, `-q` for `--quiet`. */
import { afterAll, expect, test } from "bun:test";
import { join } from "node:path";
import { run2dfs } from "../support/cli.ts";
import { tempDirs, writeTree } from "../support/temp.ts";

const temps = tempDirs();
afterAll(() => temps.cleanup());

test("--no-cache: the help does not call it on by default, and it rebuilds what the cache would have kept", async () => {
  const help = await run2dfs(["build", "--help"]);
  expect(help.stdout).toMatch(/--no-cache\s+Rebuild every allotment\s*\n/);
  expect(help.stdout).not.toContain("(default: true)");

  const dir = await temps.make();
  await writeTree(dir, { "a.txt": "a\n", "2dfs.json": JSON.stringify({ allotments: [{ src: "a.txt", dst: "/a.txt", row: 0, col: 0 }] }) });
  const build = (extra: string[]) => run2dfs(["build", "-t", "f:v1", "-f", join(dir, "2dfs.json"), "--store", join(dir, "store"), ...extra]);
  expect((await build([])).stderr).toContain("1 allotments built, 0 cached");
  expect((await build([])).stderr).toContain("0 allotments built, 1 cached");
  expect((await build(["--no-cache"])).stderr).toContain("1 allotments built, 0 cached");
});

test("-q is --quiet for build, pull and push", async () => {
  const dir = await temps.make();
  await writeTree(dir, { "a.txt": "a\n", "2dfs.json": JSON.stringify({ allotments: [{ src: "a.txt", dst: "/a.txt", row: 0, col: 0 }] }) });
  const quiet = await run2dfs(["build", "-t", "f:v1", "-f", join(dir, "2dfs.json"), "--store", join(dir, "store"), "-q"]);
  expect({ code: quiet.code, stdout: quiet.stdout, stderr: quiet.stderr }).toEqual({ code: 0, stdout: "", stderr: "" });
  for (const command of ["pull", "push"]) expect((await run2dfs([command, "--help"])).stdout).toContain("-q, --quiet");
});

test("serve -q answers without writing an access line; without it each request is logged", async () => {
  const dir = await temps.make();
  const { cliCommand } = await import("../support/cli.ts");
  const { freePort } = await import("../e2e/support/free-port.ts");
  for (const quiet of [true, false]) {
    const port = await freePort();
    const proc = Bun.spawn([...cliCommand(), "serve", "--addr", `127.0.0.1:${port}`, "--data", join(dir, `data-${quiet}`), ...(quiet ? ["-q"] : [])], { stdout: "pipe", stderr: "pipe" });
    try {
      let status = 0;
      for (let i = 0; i < 100 && status === 0; i++) {
        status = await fetch(`http://127.0.0.1:${port}/v2/`).then((r) => r.status, () => 0);
        if (status === 0) await Bun.sleep(50);
      }
      expect(status).toBe(200);
    } finally {
      proc.kill();
    }
    const stdout = await new Response(proc.stdout).text();
    if (quiet) expect(stdout).toBe("");
    else expect(stdout).toContain("GET /v2/");
  }
});
