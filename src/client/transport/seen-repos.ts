/**
 * Remembers in which repositories of which registry a blob was seen (pulled from or pushed to),
 * so a later push to another repository of that registry can mount it instead of uploading it.
 * One small append-only file per digest under the store's `.2dfs/seen/`, read and written
 * synchronously (a few hundred bytes: cheaper than a round trip through Bun's fs thread pool).
 */
import { appendFileSync, mkdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import type { LayoutStore } from "../../content/layout-store.ts";
import { type Digest, digestHex } from "../../oci/digest.ts";

function seenPath(store: LayoutStore, digest: Digest): string {
  return join(store.stateDir, "seen", digestHex(digest));
}

/** Records that `registry/repo` holds `digest`. */
export async function recordSeen(store: LayoutStore, digest: Digest, registry: string, repo: string): Promise<void> {
  const line = `${registry}/${repo}`;
  if ((await seenRepos(store, digest, registry)).includes(repo)) return;
  mkdirSync(join(store.stateDir, "seen"), { recursive: true });
  // A single short append is atomic enough: a torn line only costs a mount attempt.
  appendFileSync(seenPath(store, digest), `${line}\n`);
}

/** The repositories of `registry` where `digest` was seen, most recent last. */
export async function seenRepos(store: LayoutStore, digest: Digest, registry: string): Promise<string[]> {
  let text = "";
  try {
    text = readFileSync(seenPath(store, digest), "utf8");
  } catch {
    // never seen
  }
  const prefix = `${registry}/`;
  return text
    .split("\n")
    .filter((l) => l.startsWith(prefix))
    .map((l) => l.slice(prefix.length))
    .filter((r) => r.length > 0);
}
