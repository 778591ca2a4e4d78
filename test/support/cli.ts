/** Runs the 2dfs command line from source (or the compiled binary when TDFS_BIN is set). */
import { join } from "node:path";

const ROOT = join(import.meta.dir, "..", "..");

/** The command that starts 2dfs: the compiled binary when TDFS_BIN is set, else bun + src/cli.ts. */
export function cliCommand(): string[] {
  const bin = process.env.TDFS_BIN;
  return bin ? [bin] : [process.execPath, join(ROOT, "src", "cli.ts")];
}

/** Runs `2dfs args...` and collects its output. */
export async function run2dfs(
  args: string[],
  opts: { cwd?: string; env?: Record<string, string>; stdin?: string } = {},
): Promise<{ code: number; stdout: string; stderr: string }> {
  const proc = Bun.spawn([...cliCommand(), ...args], {
    cwd: opts.cwd,
    env: { ...process.env, ...opts.env },
    stdin: opts.stdin === undefined ? "ignore" : new TextEncoder().encode(opts.stdin),
    stdout: "pipe",
    stderr: "pipe",
  });
  const [stdout, stderr, code] = await Promise.all([new Response(proc.stdout).text(), new Response(proc.stderr).text(), proc.exited]);
  return { code, stdout, stderr };
}
