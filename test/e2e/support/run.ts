/** Generic child-process runner for e2e tests: bounded time, captured output, never throws on exit code. */

/**
 * PATH for every child process. /usr/local is left out on purpose: some machines have a
 * different `docker` client in /usr/local/bin that shadows the Debian one; sbin comes first
 * because the daemons look up runc, containerd and docker-init by PATH.
 */
export const SYSTEM_PATH = "/usr/sbin:/usr/bin:/sbin:/bin";

/** What a finished command produced. */
export interface RunResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** Options for {@link run}. */
export interface RunOptions {
  /** Extra environment variables, merged over process.env. */
  env?: Record<string, string | undefined>;
  cwd?: string;
  /** Killed with SIGKILL after this many milliseconds (default 120 s). */
  timeoutMs?: number;
  /** Written to the child's stdin, which is then closed. */
  input?: string | Uint8Array;
}

/** Thrown when a command overruns its timeout or exits non-zero under {@link runOk}. */
export class RunError extends Error {
  override name = "RunError";
  constructor(
    message: string,
    readonly result: RunResult,
  ) {
    super(message);
  }
}

/** Runs `cmd args` to completion and returns its exit code and output; a timeout kills it and throws. */
export async function run(cmd: string, args: readonly string[], opts: RunOptions = {}): Promise<RunResult> {
  const timeoutMs = opts.timeoutMs ?? 120_000;
  const env = { ...process.env, PATH: SYSTEM_PATH, ...opts.env };
  const proc = Bun.spawn([cmd, ...args], {
    cwd: opts.cwd,
    env,
    stdin: opts.input === undefined ? "ignore" : "pipe",
    stdout: "pipe",
    stderr: "pipe",
  });
  if (opts.input !== undefined && proc.stdin) {
    proc.stdin.write(opts.input);
    await proc.stdin.end();
  }
  let timedOut = false;
  const timer = setTimeout(() => {
    timedOut = true;
    proc.kill("SIGKILL");
  }, timeoutMs);
  try {
    const [stdout, stderr, code] = await Promise.all([
      new Response(proc.stdout).text(),
      new Response(proc.stderr).text(),
      proc.exited,
    ]);
    const result = { code, stdout, stderr };
    if (timedOut) {
      throw new RunError(`${cmd} ${args.join(" ")} timed out after ${timeoutMs} ms\n${stderr.slice(-2000)}`, result);
    }
    return result;
  } finally {
    clearTimeout(timer);
  }
}

/** Like {@link run} but throws a RunError carrying stderr when the exit code is not 0. */
export async function runOk(cmd: string, args: readonly string[], opts: RunOptions = {}): Promise<RunResult> {
  const result = await run(cmd, args, opts);
  if (result.code !== 0) {
    throw new RunError(
      `${cmd} ${args.join(" ")} exited with ${result.code}\nstderr: ${result.stderr.slice(-4000)}\nstdout: ${result.stdout.slice(-1000)}`,
      result,
    );
  }
  return result;
}

/** Awaits a command's result and returns its stdout; a non-zero exit throws, naming `what` with the command's output. */
export async function must(what: string, p: Promise<{ code: number; stdout: string; stderr: string }>): Promise<string> {
  const r = await p;
  if (r.code !== 0) throw new Error(`${what} failed (${r.code}): ${r.stderr}\n${r.stdout}`);
  return r.stdout;
}
