/** A private containerd (CRI disabled) on a unix socket in a temp dir, plus a ctr bound to it. */
import { writeFile } from "node:fs/promises";
import { join } from "node:path";
import { spawnDaemon, stopDaemon, waitForDaemon } from "./daemon.ts";
import { run, type RunOptions, type RunResult } from "./run.ts";
import { makeTempDir, removeTempDir } from "./temp-dir.ts";
import { requireTool } from "./tools.ts";

/** A running private containerd. */
export interface ContainerdHandle {
  /** The grpc socket path (what `ctr --address` takes). */
  address: string;
  dir: string;
  logFile: string;
  /** Runs `ctr --address <address> ...args`. */
  ctr(args: readonly string[], opts?: RunOptions): Promise<RunResult>;
  /** Stops containerd, kills leftover shims and removes its temp dir. */
  stop(): Promise<void>;
}

/** Starts containerd with its own root, state and sockets; resolves when `ctr version` answers. */
export async function startContainerd(opts: { timeoutMs?: number } = {}): Promise<ContainerdHandle> {
  const containerdBin = requireTool("containerd");
  const ctrBin = requireTool("ctr");
  const dir = await makeTempDir("containerd");
  const address = join(dir, "containerd.sock");
  const logFile = join(dir, "containerd.log");
  const configFile = join(dir, "config.toml");
  // JSON strings are valid TOML basic strings, so paths are quoted safely.
  const q = (s: string) => JSON.stringify(s);
  await writeFile(
    configFile,
    [
      "version = 2",
      `root = ${q(join(dir, "root"))}`,
      `state = ${q(join(dir, "state"))}`,
      // The CRI plugin wants CNI and kubelet-style setup we do not have and do not need.
      'disabled_plugins = ["io.containerd.grpc.v1.cri"]',
      "[grpc]",
      `  address = ${q(address)}`,
      "[ttrpc]",
      `  address = ${q(`${address}.ttrpc`)}`,
      "[debug]",
      '  address = ""',
      "[metrics]",
      '  address = ""',
      "",
    ].join("\n"),
  );
  const daemon = spawnDaemon("containerd", containerdBin, ["--config", configFile], logFile);
  const ctr = (args: readonly string[], runOpts?: RunOptions) => run(ctrBin, ["--address", address, ...args], runOpts);
  const stop = async () => {
    await stopDaemon(daemon, 10_000);
    // Shims are started detached so containers outlive containerd; removeTempDir kills those naming our dir.
    await removeTempDir(dir);
  };
  try {
    await waitForDaemon(daemon, async () => (await ctr(["version"], { timeoutMs: 5_000 })).code === 0, opts.timeoutMs ?? 20_000);
  } catch (err) {
    await stop();
    throw err;
  }
  return { address, dir, logFile, ctr, stop };
}
