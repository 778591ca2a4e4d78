/** A private Docker engine (dockerd) on a unix socket in a temp dir, with no bridge and no iptables. */
import { join } from "node:path";
import { spawnDaemon, stopDaemon, waitForDaemon } from "./daemon.ts";
import { run, type RunOptions, type RunResult } from "./run.ts";
import { makeTempDir, removeTempDir } from "./temp-dir.ts";
import { requireTool } from "./tools.ts";

/** A running private dockerd. */
export interface DockerdHandle {
  /** Environment that points a docker client at this engine. */
  env: { DOCKER_HOST: string };
  dir: string;
  logFile: string;
  /** Runs the Debian docker client (/usr/bin/docker) against this engine. */
  docker(args: readonly string[], opts?: RunOptions): Promise<RunResult>;
  /** Stops dockerd (and the containerd it manages) and removes its temp dir. */
  stop(): Promise<void>;
}

/** Starts dockerd with its own data-root, exec-root and socket; resolves when /_ping answers. */
export async function startDockerd(opts: { timeoutMs?: number } = {}): Promise<DockerdHandle> {
  const dockerdBin = requireTool("dockerd");
  // The Debian client; a different client in /usr/local/bin may come first on the user's PATH.
  const dockerBin = requireTool("docker");
  const dir = await makeTempDir("dockerd");
  const socket = join(dir, "docker.sock");
  const logFile = join(dir, "dockerd.log");
  const daemon = spawnDaemon(
    "dockerd",
    dockerdBin,
    [
      "--data-root", join(dir, "data"),
      "--exec-root", join(dir, "exec"),
      "--pidfile", join(dir, "dockerd.pid"),
      "-H", `unix://${socket}`,
      // No docker0 bridge and no iptables rules: tests run with --network none or host.
      "--bridge", "none",
      "--iptables=false",
      "--ip6tables=false",
      "--ip-masq=false",
    ],
    logFile,
  );
  const env = { DOCKER_HOST: `unix://${socket}` };
  const stop = async () => {
    await stopDaemon(daemon, 15_000);
    await removeTempDir(dir);
  };
  try {
    await waitForDaemon(
      daemon,
      async () => (await fetch("http://localhost/_ping", { unix: socket })).ok,
      opts.timeoutMs ?? 30_000,
    );
  } catch (err) {
    await stop();
    throw err;
  }
  return {
    env,
    dir,
    logFile,
    docker: (args, runOpts) => run(dockerBin, args, { ...runOpts, env: { ...runOpts?.env, ...env } }),
    stop,
  };
}
