/**
 * What a release binary was built from and for, baked in by scripts/release.ts with
 * `bun build --define`; from source both are unknown ("source"), which --version says.
 */

declare const TDFS_COMMIT: string | undefined;
declare const TDFS_TARGET: string | undefined;

/** The git commit the binary was built from (short hash, "-dirty" when the tree had changes). */
export const buildCommit: string | undefined = typeof TDFS_COMMIT === "string" ? TDFS_COMMIT : undefined;

/** The release target, e.g. linux-arm64-musl. */
export const buildTarget: string | undefined = typeof TDFS_TARGET === "string" ? TDFS_TARGET : undefined;

/** The text after `2dfs/` in `2dfs --version`: version, commit and target. */
export function versionText(version: string): string {
  return `${version} (commit ${buildCommit ?? "source"}, target ${buildTarget ?? "source"})`;
}
