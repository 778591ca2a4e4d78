/** Where the Debian-packaged OCI tools live, and thin wrappers for the stateless ones (skopeo, umoci). */
import { existsSync } from "node:fs";
import { run, SYSTEM_PATH, type RunOptions, type RunResult } from "./run.ts";


/** The tools the e2e suites know how to use. */
export type ToolName =
  | "docker"
  | "dockerd"
  | "containerd"
  | "ctr"
  | "skopeo"
  | "umoci"
  | "podman"
  | "buildah"
  | "runc"
  | "docker-registry"
  | "busybox"
  | "strace"
  | "curl"
  | "openssl"
  | "jq";

/** Absolute path of a tool, found on {@link SYSTEM_PATH} (undefined when it is not installed). */
export function toolPath(name: ToolName | string): string | undefined {
  return Bun.which(name, { PATH: SYSTEM_PATH }) ?? undefined;
}

/** Whether a tool is installed (see .ci/install-deps.sh). */
export function hasTool(name: ToolName | string): boolean {
  const path = toolPath(name);
  return path !== undefined && existsSync(path);
}

/** Absolute path of a tool, or a clear error naming the installer. */
export function requireTool(name: ToolName): string {
  const path = toolPath(name);
  if (path === undefined) {
    throw new Error(`${name} is not installed: run .ci/install-deps.sh (or set TDFS_SKIP_E2E=1 to skip e2e suites)`);
  }
  return path;
}

/** Runs skopeo with the given arguments (callers pass --src/--dest-tls-verify=false for 127.0.0.1 registries). */
export function skopeo(args: readonly string[], opts?: RunOptions): Promise<RunResult> {
  return run(requireTool("skopeo"), args, opts);
}

/** Runs umoci with the given arguments (use `unpack --rootless` so no chown/mknod is needed). */
export function umoci(args: readonly string[], opts?: RunOptions): Promise<RunResult> {
  return run(requireTool("umoci"), args, opts);
}
