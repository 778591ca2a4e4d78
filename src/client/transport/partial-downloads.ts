/**
 * Partial files of blob downloads, safe for any number of processes sharing one store.
 *
 * Each download writes its own file, `.2dfs/partial/<hex>.<pid>.<token>`: no two writers ever
 * append to one file, so the bytes verified are exactly the bytes renamed into `blobs/` (two
 * pulls sharing one partial file once left blobs at twice their size under their digest). A
 * partial file whose process is gone (a pull killed or cut off) is adopted by the next download
 * of that blob with one rename, which only one claimant can win, and resumed from its size.
 * While a live process downloads a blob, others wait for it rather than fetch the same bytes.
 */
import { mkdirSync, openSync, closeSync, readdirSync, renameSync, statSync, unlinkSync } from "node:fs";
import { join } from "node:path";
import type { LayoutStore } from "../../content/layout-store.ts";
import { type Digest, digestHex } from "../../oci/digest.ts";
import { isProcessAlive } from "../../util/process-alive.ts";

/** A partial file this process now owns, holding `offset` bytes already received. */
export interface PartialClaim {
  path: string;
  offset: number;
  /** Gives the name up (after a commit or a removal) so this process's later claims may adopt a kept file again. */
  release(): void;
}

/** Partial files of this process that a download is writing right now (by file name). */
const active = new Set<string>();

function partialDir(store: LayoutStore): string {
  return join(store.stateDir, "partial");
}

/** Every partial file of `digest` in the store (any process), as paths. */
export function partialPaths(store: LayoutStore, digest: Digest): string[] {
  const dir = partialDir(store);
  return partialNames(dir, digestHex(digest)).map((name) => join(dir, name));
}

function partialNames(dir: string, hex: string): string[] {
  let names: string[];
  try {
    names = readdirSync(dir);
  } catch {
    return [];
  }
  // `<hex>` alone is the name older versions used for their one shared partial file.
  return names.filter((n) => n === hex || n.startsWith(`${hex}.`));
}

/** Whether the process that wrote partial file `name` may still be writing it. */
function isLive(name: string): boolean {
  const pid = Number(name.split(".")[1]);
  if (!Number.isInteger(pid) || pid <= 0) return false;
  if (pid === process.pid) return active.has(name);
  return isProcessAlive(pid);
}

/**
 * Claims a partial file for `digest`: adopts one left by a process that is gone (resuming from
 * its size), or creates a new empty one. Answers undefined when a live process is downloading
 * this blob and `evenIfBusy` is not set.
 */
export function claimPartial(store: LayoutStore, digest: Digest, evenIfBusy = false): PartialClaim | undefined {
  const dir = partialDir(store);
  mkdirSync(dir, { recursive: true });
  const hex = digestHex(digest);
  const name = `${hex}.${process.pid}.${crypto.randomUUID().slice(0, 8)}`;
  const path = join(dir, name);
  const names = partialNames(dir, hex);
  if (!evenIfBusy && names.some(isLive)) return undefined;
  let adopted = false;
  for (const other of names) {
    if (isLive(other)) continue;
    try {
      // Whoever renames a dead file first owns it; the others see ENOENT and move on.
      if (!adopted) {
        renameSync(join(dir, other), path);
        adopted = true;
      } else {
        unlinkSync(join(dir, other));
      }
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== "ENOENT") throw error;
    }
  }
  if (!adopted) closeSync(openSync(path, "wx"));
  active.add(name);
  return { path, offset: statSync(path).size, release: () => active.delete(name) };
}

/** How often a download waiting for another process's download of the same blob looks again. */
const WAIT_POLL_MS = 20;
/** A download that has not grown for this long is no longer waited for. */
const STALLED_MS = 60_000;

/**
 * Waits while live processes download `digest` (returns as soon as none is, or `done()` says the
 * blob is there). Answers "stalled" when their partial files have not grown for a minute: the
 * caller then downloads the blob itself.
 */
export async function waitForOtherDownloads(store: LayoutStore, digest: Digest, done: () => boolean): Promise<"free" | "stalled"> {
  const dir = partialDir(store);
  const hex = digestHex(digest);
  let lastSize = -1;
  let lastChange = Date.now();
  for (;;) {
    if (done()) return "free";
    const live = partialNames(dir, hex).filter(isLive);
    if (live.length === 0) return "free";
    const size = live.reduce((sum, n) => sum + (statSync(join(dir, n), { throwIfNoEntry: false })?.size ?? 0), 0);
    if (size !== lastSize) {
      lastSize = size;
      lastChange = Date.now();
    } else if (Date.now() - lastChange > STALLED_MS) {
      return "stalled";
    }
    await Bun.sleep(WAIT_POLL_MS);
  }
}
