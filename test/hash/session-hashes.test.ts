/** Running hashes of growing files, on this thread and on the hashing thread: always the file's digest, whatever the order of calls. */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { createHash, randomBytes } from "node:crypto";
import { appendFile, mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { type SessionHashes, createSessionHashes } from "../../src/hash/session-hashes.ts";
import { SessionThreadError, createSessionThread } from "../../src/hash/session-thread.ts";

let dir: string;
const thread = createSessionThread();
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "2dfs-session-hashes-"));
});
afterAll(async () => {
  thread.close();
  await rm(dir, { recursive: true, force: true });
});

const hex = (bytes: Uint8Array) => createHash("sha256").update(bytes).digest("hex");

for (const [name, make] of [
  ["this thread", () => createSessionHashes({ maxEntries: 2 })],
  ["the hashing thread", () => thread],
] as [string, () => SessionHashes][]) {
  describe(`session hashes on ${name}`, () => {
    test("chunks hashed as they are appended give the whole file's digest", async () => {
      const hashes = make();
      const path = join(dir, `grow-${name}`);
      const parts = [randomBytes(1000), randomBytes(300_000), randomBytes(1)];
      await writeFile(path, "");
      let size = 0;
      for (const part of parts) {
        await appendFile(path, part);
        await hashes.update("s1", path, size, size + part.length);
        size += part.length;
      }
      expect(await hashes.digest("s1", path, size)).toBe(hex(Buffer.concat(parts)));
    });

    test("a session it does not hold, or holds at another offset, is hashed again from the file", async () => {
      const hashes = make();
      const path = join(dir, `resync-${name}`);
      const bytes = randomBytes(50_000);
      await writeFile(path, bytes);
      // Never seen: continue from 20,000 as a restarted server would.
      await hashes.update("s2", path, 20_000, 30_000);
      // Out of step: the caller asks from 40,000 while the hash holds 30,000.
      await hashes.update("s2", path, 40_000, 50_000);
      expect(await hashes.digest("s2", path, 50_000)).toBe(hex(bytes));
      // digest() forgot s2: asking again hashes the prefix afresh.
      expect(await hashes.digest("s2", path, 10_000)).toBe(hex(bytes.subarray(0, 10_000)));
    });

    test("a file shorter than the range fails instead of giving a digest", async () => {
      const hashes = make();
      const path = join(dir, `short-${name}`);
      await writeFile(path, randomBytes(100));
      await expect(hashes.update("s3", path, 0, 200)).rejects.toThrow(/shorter than/);
    });
  });
}

test("more sessions than it holds: the evicted ones are still right", async () => {
  const hashes = createSessionHashes({ maxEntries: 1 });
  const a = join(dir, "evict-a");
  const b = join(dir, "evict-b");
  const bytesA = randomBytes(10_000);
  const bytesB = randomBytes(10_000);
  await writeFile(a, bytesA);
  await writeFile(b, bytesB);
  await hashes.update("a", a, 0, 5_000);
  await hashes.update("b", b, 0, 5_000); // evicts a
  await hashes.update("a", a, 5_000, 10_000);
  await hashes.update("b", b, 5_000, 10_000);
  expect(await hashes.digest("a", a, 10_000)).toBe(hex(bytesA));
  expect(await hashes.digest("b", b, 10_000)).toBe(hex(bytesB));
});

test("a closed hashing thread refuses calls with a clear error", async () => {
  const own = createSessionThread();
  const path = join(dir, "closed");
  await writeFile(path, randomBytes(10));
  expect(await own.digest("x", path, 10)).toBe(hex(await Bun.file(path).bytes()));
  own.close();
  await expect(own.digest("x", path, 10)).rejects.toBeInstanceOf(SessionThreadError);
});
