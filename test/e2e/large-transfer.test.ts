/**
 * A 1 GiB allotment (over three times the memory limit) through the whole path with the compiled binary: build it uncompressed,
 * push it to `2dfs serve`, pull it back as files. Every process stays under 300 MB at its peak
 * (the clients' as GNU time reports it, the server's from /proc), and the file arrives whole.
 */
import { afterAll, beforeAll, expect, test } from "bun:test";
import { readFile, stat, truncate, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { cliCommand } from "../support/cli.ts";
import { runMeasured } from "../support/peak-memory.ts";
import { describeIfE2E, makeTempDir, removeTempDir, startTdfsServer, type TdfsServer } from "./support/index.ts";

const SIZE = 1024 ** 3;
const LIMIT_MB = 300;

/** Runs 2dfs and returns its exit code, stderr and peak RSS in MB. */
function measured(args: string[]): Promise<{ code: number; stderr: string; peakMb: number }> {
  return runMeasured([...cliCommand(), ...args]);
}

/** The peak resident memory of a running process, in MB (VmHWM). */
async function peakOf(pid: number): Promise<number> {
  const status = await readFile(`/proc/${pid}/status`, "utf8");
  return Number(/^VmHWM:\s+(\d+) kB/m.exec(status)![1]) / 1024;
}

describeIfE2E("a 1 GiB allotment through build, push, serve and pull (e2e)", [], () => {
  let dir: string;
  let server: TdfsServer;
  beforeAll(async () => {
    dir = await makeTempDir("2dfs-e2e-large-");
    server = await startTdfsServer();
  });
  afterAll(async () => {
    await server?.stop();
    await removeTempDir(dir);
  });

  test("every process stays under 300 MB and the file arrives whole", async () => {
    const src = join(dir, "huge.bin");
    await writeFile(src, "tail");
    await truncate(src, SIZE); // sparse: quick to make, still 1 GiB to read, hash and send
    await writeFile(join(dir, "2dfs.json"), JSON.stringify({ allotments: [{ src: "huge.bin", dst: "/data/huge.bin", row: 0, col: 0 }] }));
    const store = join(dir, "store");
    const built = await measured(["build", "-t", "large:v1", "-f", join(dir, "2dfs.json"), "--store", store, "--compression", "none", "--quiet"]);
    expect(built.stderr).toBe("");
    expect(built.code).toBe(0);

    const pushed = await measured(["push", "large:v1", `${server.host}/large/img:v1`, "--store", store, "--quiet"]);
    expect(pushed.stderr).toBe("");
    expect(pushed.code).toBe(0);

    const out = join(dir, "out");
    const pulled = await measured(["pull", `${server.host}/large/img:v1--0.0.0.0`, "-o", out, "--store", join(dir, "pull-store"), "--quiet"]);
    expect(pulled.stderr).toBe("");
    expect(pulled.code).toBe(0);
    expect((await stat(join(out, "data/huge.bin"))).size).toBe(SIZE);
    // The first bytes and the last bytes are the source's: "tail" then zeros to the end.
    const head = await Bun.file(join(out, "data/huge.bin")).slice(0, 4).text();
    expect(head).toBe("tail");

    const peaks = { build: built.peakMb, push: pushed.peakMb, pull: pulled.peakMb, serve: await peakOf(server.pid) };
    for (const [what, mb] of Object.entries(peaks)) {
      // The pair names the process when the check fails.
      expect([what, mb > 0 && mb < LIMIT_MB]).toEqual([what, true]);
    }
  }, 300_000);
});
