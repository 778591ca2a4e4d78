/** Partial download files shared by processes on one store: claimed, adopted from dead processes, waited for while live. */
import { afterAll, describe, expect, test } from "bun:test";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { claimPartial, partialPaths, waitForOtherDownloads } from "../../../src/client/transport/partial-downloads.ts";
import { createLayoutStore } from "../../../src/content/layout-store.ts";
import { digestHex, type Digest } from "../../../src/oci/digest.ts";
import { tempDirs } from "../../support/temp.ts";

const temps = tempDirs();
afterAll(() => temps.cleanup());
const store = async () => createLayoutStore(join(await temps.make(), "store"));
const DIGEST: Digest = `sha256:${"ab".repeat(32)}`;

/** The pid of a process that has exited. */
async function deadPid(): Promise<number> {
  const child = Bun.spawn(["true"]);
  await child.exited;
  return child.pid;
}

/** A partial file as another process (pid) would have left it. */
function leavePartial(s: Awaited<ReturnType<typeof store>>, pid: number, bytes: string): string {
  const path = join(s.stateDir, "partial", `${digestHex(DIGEST)}.${pid}.0000beef`);
  claimPartial(s, `sha256:${"00".repeat(32)}`)!.release(); // creates the folder
  writeFileSync(path, bytes);
  return path;
}

describe("partial downloads", () => {
  test("a claim creates an empty file of this process; a second claim waits while the first is under way", async () => {
    const s = await store();
    const first = claimPartial(s, DIGEST)!;
    expect(first.offset).toBe(0);
    expect(partialPaths(s, DIGEST)).toEqual([first.path]);
    expect(claimPartial(s, DIGEST)).toBeUndefined();
    // A claimant that stopped waiting gets a file of its own, never the busy one.
    const forced = claimPartial(s, DIGEST, true)!;
    expect(forced.path).not.toBe(first.path);
    first.release();
    forced.release();
  });

  test("a dead process's partial file is adopted once, and the download resumes from its size", async () => {
    const s = await store();
    const left = leavePartial(s, await deadPid(), "12345");
    const claim = claimPartial(s, DIGEST)!;
    expect(claim.offset).toBe(5);
    expect(partialPaths(s, DIGEST)).toEqual([claim.path]);
    expect(claim.path).not.toBe(left);
    // Its new owner is alive: a second claimant must not take it.
    expect(claimPartial(s, DIGEST)).toBeUndefined();
    claim.release();
    // Released (the download gave up, keeping the bytes): this process may adopt it again.
    const again = claimPartial(s, DIGEST)!;
    expect(again.offset).toBe(5);
    again.release();
  });

  test("a live process's partial file is waited for; the wait ends when it is gone or the blob is there", async () => {
    const s = await store();
    const sleeper = Bun.spawn(["sleep", "30"]);
    try {
      const path = leavePartial(s, sleeper.pid, "abc");
      expect(claimPartial(s, DIGEST)).toBeUndefined();
      let blobThere = false;
      setTimeout(() => (blobThere = true), 60);
      const started = Date.now();
      expect(await waitForOtherDownloads(s, DIGEST, () => blobThere)).toBe("free");
      expect(Date.now() - started).toBeGreaterThanOrEqual(50);
      // Its owner dies: the file is adopted.
      sleeper.kill();
      await sleeper.exited;
      expect(await waitForOtherDownloads(s, DIGEST, () => false)).toBe("free");
      const claim = claimPartial(s, DIGEST)!;
      expect(claim.offset).toBe(3);
      expect(partialPaths(s, DIGEST)).not.toContain(path);
      claim.release();
    } finally {
      sleeper.kill();
    }
  });

  test("the single shared partial file of older versions is adopted too", async () => {
    const s = await store();
    claimPartial(s, `sha256:${"00".repeat(32)}`)!.release();
    writeFileSync(join(s.stateDir, "partial", digestHex(DIGEST)), "old");
    const claim = claimPartial(s, DIGEST)!;
    expect(claim.offset).toBe(3);
    claim.release();
  });
});

describe("cached blobs are verified before reuse", () => {
  test("a blob of the wrong size is removed and not reported cached; without a size its content is hashed", async () => {
    const s = await store();
    const { digest, size } = await s.putBlob(new TextEncoder().encode("hello world"));
    expect(await s.verifyBlob(digest, size)).toBe(true);
    expect(await s.verifyBlob(digest)).toBe(true);
    writeFileSync(s.blobPath(digest), "hello worldhello world");
    expect(await s.verifyBlob(digest, size)).toBe(false);
    expect(await s.hasBlob(digest)).toBe(false);
    writeFileSync(s.blobPath(digest), "hello WORLD");
    expect(await s.verifyBlob(digest)).toBe(false);
    expect(await s.hasBlob(digest)).toBe(false);
  });
});
