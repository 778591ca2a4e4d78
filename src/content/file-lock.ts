/** A cross-process lock file (O_EXCL create), with stale-lock recovery by PID. */
import { closeSync, openSync, readFileSync, rmSync, statSync, unlinkSync } from "node:fs";
import { open, readFile, rm } from "node:fs/promises";
import { isProcessAlive } from "../util/process-alive.ts";

const RETRY_MS = 5;
/** A breaker holds `<lock>.break` for three system calls: one this old was left by a crash. */
const BREAK_GUARD_STALE_MS = 10_000;

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
      if ((await isStale(path)) && breakStaleLock(path)) continue;
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
 * Removes a lock left by a dead process; false when another waiter is doing so. Two waiters may
 * both see it stale, and removing it by name (or renaming it aside, while a third creates a new
 * one) can then take away the lock another waiter has just taken. So breakers first take
 * `<lock>.break` (O_EXCL) and judge the lock again under it: while the dead holder's file is
 * there nobody can create a new lock, and only a breaker removes it.
 */
function breakStaleLock(path: string): boolean {
  const guard = `${path}.break`;
  let fd: number;
  try {
    fd = openSync(guard, "wx");
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== "EEXIST") throw error;
    const since = statSync(guard, { throwIfNoEntry: false })?.mtimeMs;
    if (since !== undefined && Date.now() - since > BREAK_GUARD_STALE_MS) rmSync(guard, { force: true });
    return false;
  }
  try {
    const content = readFileSync(path, "utf8");
    if (holderIsGone(content)) unlinkSync(path);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== "ENOENT") throw error; // already broken
  } finally {
    closeSync(fd);
    rmSync(guard, { force: true });
  }
  return true;
}
