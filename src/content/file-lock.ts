/** A cross-process lock file (O_EXCL create), with stale-lock recovery by PID. */
import { linkSync, readFileSync, renameSync, rmSync } from "node:fs";
import { open, readFile, rm } from "node:fs/promises";
import { isProcessAlive } from "../util/process-alive.ts";

const RETRY_MS = 5;

/** Holds `path` while `fn` runs; waits for another holder, breaks a lock whose process is gone. */
export async function withFileLock<T>(path: string, fn: () => Promise<T>, timeoutMs = 30_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      const handle = await open(path, "wx");
      await handle.write(String(process.pid));
      await handle.close();
      break;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== "EEXIST") throw error;
      if (await isStale(path)) {
        breakStaleLock(path);
        continue;
      }
      if (Date.now() > deadline) throw new Error(`timed out waiting for the lock ${path}; remove it if no 2dfs process is running`);
      await Bun.sleep(RETRY_MS);
    }
  }
  try {
    return await fn();
  } finally {
    await rm(path, { force: true });
  }
}

async function isStale(path: string): Promise<boolean> {
  return holderIsGone(await readFile(path, "utf8").catch(() => ""));
}

function holderIsGone(content: string): boolean {
  const pid = Number(content);
  // An empty file is a holder that has not written its PID yet: not stale.
  if (content === "" || !Number.isInteger(pid) || pid <= 0) return false;
  return !isProcessAlive(pid);
}

/**
 * Removes a lock left by a dead process. Two waiters may both see it stale: deleting by name
 * could then delete the lock the quicker one has just taken. So the lock is first renamed aside
 * (only one waiter gets it) and checked again; a live holder's lock is linked back.
 */
function breakStaleLock(path: string): void {
  const aside = `${path}.stale-${process.pid}-${crypto.randomUUID()}`;
  try {
    renameSync(path, aside);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === "ENOENT") return; // someone else broke it
    throw error;
  }
  try {
    if (!holderIsGone(readFileSync(aside, "utf8"))) linkSync(aside, path);
  } catch (error) {
    // EEXIST: a third process took the lock in the instant it was aside; it holds it now.
    if ((error as NodeJS.ErrnoException).code !== "EEXIST") throw error;
  } finally {
    rmSync(aside, { force: true });
  }
}
