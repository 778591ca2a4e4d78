import { afterAll, expect, test } from "bun:test";
import { existsSync } from "node:fs";
import { utimes, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { withFileLock } from "../../src/content/file-lock.ts";
import { makeTempDir } from "../support/temp.ts";

const { dir, cleanup } = await makeTempDir();
afterAll(cleanup);

test("waiters that all find a dead holder's lock break it once: one of them holds it at a time", async () => {
  for (let round = 0; round < 5; round++) {
    const lock = join(dir, `round-${round}.lock`);
    await writeFile(lock, "999999"); // a holder that is gone
    let inside = 0;
    let most = 0;
    const holds = Array.from({ length: 8 }, () =>
      withFileLock(lock, async () => {
        most = Math.max(most, ++inside);
        await Bun.sleep(10);
        inside--;
      }, 10_000),
    );
    await Promise.all(holds);
    expect(most).toBe(1);
    expect([existsSync(lock), existsSync(`${lock}.break`)]).toEqual([false, false]);
  }
});

test("a breaker's guard left by a crash stops breaking only for a while", async () => {
  const lock = join(dir, "crashed-breaker.lock");
  await writeFile(lock, "999999");
  await writeFile(`${lock}.break`, "");
  // A fresh guard: another waiter is breaking the lock, so this one waits for it.
  await expect(withFileLock(lock, async () => "taken", 100)).rejects.toThrow(/timed out waiting for the lock/);
  const old = new Date(Date.now() - 60_000);
  await utimes(`${lock}.break`, old, old);
  expect(await withFileLock(lock, async () => "taken", 2000)).toBe("taken");
  expect(existsSync(`${lock}.break`)).toBe(false);
});
