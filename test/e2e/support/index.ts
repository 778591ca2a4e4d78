/** Everything e2e suites need to start real OCI clients, daemons and registries on 127.0.0.1. */
export { makeBusyboxBase, BUSYBOX_APPLETS, type BusyboxArch, type BusyboxBase, type BusyboxBaseOptions } from "./busybox-base.ts";
export { startContainerd, type ContainerdHandle } from "./containerd.ts";
export { describeIfE2E, isE2ESkipped, missingRequirements } from "./describe-if-e2e.ts";
export { startDistribution, type DistributionHandle } from "./distribution.ts";
export { startDockerd, type DockerdHandle } from "./dockerd.ts";
export { freePort } from "./free-port.ts";
export { createPodman, type PodmanHandle } from "./podman.ts";
export { must, run, runOk, RunError, SYSTEM_PATH, type RunOptions, type RunResult } from "./run.ts";
export { makeTempDir, removeTempDir } from "./temp-dir.ts";
export { hasTool, requireTool, skopeo, toolPath, umoci, type ToolName } from "./tools.ts";
export { startTdfsServer, type TdfsServer } from "./tdfs-server.ts";
export { CELLS_2X2, fieldContext, fieldFile } from "./field-grid.ts";
