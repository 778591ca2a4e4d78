/** Gate for e2e suites: skip loudly only when TDFS_SKIP_E2E=1; a missing tool otherwise fails. */
import { describe, test } from "bun:test";
import { hasTool, type ToolName } from "./tools.ts";

/** Whether the user asked to skip the e2e suites. */
export function isE2ESkipped(): boolean {
  return process.env.TDFS_SKIP_E2E === "1";
}

/** Tools (and root, which dockerd/containerd/podman need) missing on this machine. */
export function missingRequirements(tools: readonly ToolName[], opts: { root?: boolean } = {}): string[] {
  const missing: string[] = tools.filter((t) => !hasTool(t));
  if ((opts.root ?? true) && process.getuid?.() !== 0) missing.push("root (uid 0)");
  return missing;
}

/**
 * Declares an e2e suite needing `tools`. With TDFS_SKIP_E2E=1 it is skipped with a warning on
 * stderr; if anything is missing it becomes one failing test naming what to install, because CI
 * must never silently skip.
 */
export function describeIfE2E(
  name: string,
  tools: readonly ToolName[],
  body: () => void,
  opts: { root?: boolean } = {},
): void {
  if (isE2ESkipped()) {
    console.warn(`\n*** SKIPPING e2e suite "${name}" because TDFS_SKIP_E2E=1 ***\n`);
    describe.skip(name, body);
    return;
  }
  const missing = missingRequirements(tools, opts);
  if (missing.length > 0) {
    describe(name, () => {
      test("required tools are installed", () => {
        throw new Error(
          `e2e suite "${name}" needs: ${missing.join(", ")}. Run .ci/install-deps.sh as root, or set TDFS_SKIP_E2E=1 to skip.`,
        );
      });
    });
    return;
  }
  describe(name, body);
}
