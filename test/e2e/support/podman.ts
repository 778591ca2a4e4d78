/** podman with private storage (--root/--runroot/--tmpdir in a temp dir) so tests never share images. */
import { join } from "node:path";
import { run, type RunOptions, type RunResult } from "./run.ts";
import { makeTempDir, removeTempDir } from "./temp-dir.ts";
import { requireTool } from "./tools.ts";

/** A podman bound to its own storage. */
export interface PodmanHandle {
  dir: string;
  /** Runs `podman --root .. --runroot .. --tmpdir .. ...args`. */
  podman(args: readonly string[], opts?: RunOptions): Promise<RunResult>;
  /** Removes every container, kills leftover conmon processes, and deletes the storage. */
  stop(): Promise<void>;
}

/**
 * Creates a private podman store. Needs /etc/containers/containers.conf from .ci/install-deps.sh
 * (runc + lower ulimits: the sandbox refuses podman's default rlimits).
 */
export async function createPodman(): Promise<PodmanHandle> {
  const bin = requireTool("podman");
  const dir = await makeTempDir("podman");
  const globalArgs = [
    "--root", join(dir, "root"),
    "--runroot", join(dir, "run"),
    "--tmpdir", join(dir, "tmp"),
    // No systemd on CI machines.
    "--cgroup-manager", "cgroupfs",
    "--events-backend", "file",
  ];
  const podman = (args: readonly string[], opts?: RunOptions) => run(bin, [...globalArgs, ...args], opts);
  return {
    dir,
    podman,
    stop: async () => {
      await podman(["rm", "--all", "--force", "--time", "0"], { timeoutMs: 30_000 }).catch(() => undefined);
      await removeTempDir(dir);
    },
  };
}
