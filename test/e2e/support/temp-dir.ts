/** Fresh temp dirs for daemons, and a teardown that also undoes what the daemons left inside them. */
import { mkdtemp, readFile, readdir, readlink, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { run } from "./run.ts";

/** Creates a fresh directory under the OS temp dir (kept short: unix socket paths are limited to 108 bytes). */
export function makeTempDir(prefix: string): Promise<string> {
  return mkdtemp(join(tmpdir(), `tdfs-${prefix}-`));
}

/**
 * Kills, by pid, every process whose command line or cwd names `dir`: container shims and
 * conmon outlive their daemon by design, and they are ours because the dir is unique to us.
 */
export async function killProcessesUnder(dir: string): Promise<number[]> {
  const killed: number[] = [];
  const entries = await readdir("/proc").catch(() => [] as string[]);
  for (const entry of entries) {
    const pid = Number(entry);
    if (!Number.isInteger(pid) || pid === process.pid) continue;
    const cmdline = await readFile(`/proc/${pid}/cmdline`, "utf8").catch(() => "");
    const cwd = await readlink(`/proc/${pid}/cwd`).catch(() => "");
    if (cmdline.includes(dir) || cwd === dir || cwd.startsWith(`${dir}/`)) {
      try {
        process.kill(pid, "SIGKILL");
        killed.push(pid);
      } catch {
        // Already gone.
      }
    }
  }
  return killed;
}

/** Mount points at or below `dir`, deepest first (overlay and netns mounts a daemon may leave behind). */
export async function mountsUnder(dir: string): Promise<string[]> {
  const info = await readFile("/proc/self/mountinfo", "utf8").catch(() => "");
  const points = info
    .split("\n")
    .map((line) => line.split(" ")[4])
    .filter((p): p is string => p !== undefined)
    // mountinfo escapes space, tab, newline and backslash as octal.
    .map((p) => p.replace(/\\([0-7]{3})/g, (_, oct: string) => String.fromCharCode(parseInt(oct, 8))))
    .filter((p) => p === dir || p.startsWith(`${dir}/`));
  return [...new Set(points)].sort((a, b) => b.length - a.length);
}

/** Kills leftover processes, lazily unmounts leftover mounts, then deletes `dir`; warns instead of throwing. */
export async function removeTempDir(dir: string): Promise<void> {
  await killProcessesUnder(dir);
  for (const point of await mountsUnder(dir)) {
    await run("umount", ["-l", point], { timeoutMs: 10_000 }).catch(() => undefined);
  }
  try {
    await rm(dir, { recursive: true, force: true, maxRetries: 3 });
  } catch (err) {
    console.warn(`e2e: could not remove ${dir}: ${String(err)}`);
  }
}
