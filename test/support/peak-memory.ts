/**
 * Runs a command and measures its peak resident memory. Not from the spawned process's own
 * resource usage: on Linux a process keeps, across exec, the peak RSS of the image it was forked
 * from, so a child of the test runner reports at least the runner's size (a 1 MB `true` spawned
 * by a 400 MB runner "peaked" at 423 MB). GNU time forks the command from its own small process
 * and reports the command's peak alone.
 */
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";

/** Runs `cmd` and returns its exit code, stderr and peak RSS in MB. */
export async function runMeasured(cmd: string[], opts: { env?: Record<string, string> } = {}): Promise<{ code: number; stderr: string; peakMb: number }> {
  const dir = await mkdtemp(join(tmpdir(), "2dfs-peak-"));
  try {
    const report = join(dir, "time");
    const proc = Bun.spawn(["/usr/bin/time", "-f", "%M", "-o", report, ...cmd], { stdout: "ignore", stderr: "pipe", env: { ...process.env, ...opts.env } });
    const [stderr, code] = await Promise.all([new Response(proc.stderr).text(), proc.exited]);
    const kb = Number((await readFile(report, "utf8")).trim().split("\n").pop());
    if (!Number.isFinite(kb) || kb <= 0) throw new Error(`GNU time reported no peak memory for ${cmd.join(" ")}`);
    return { code, stderr, peakMb: kb / 1024 };
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}
