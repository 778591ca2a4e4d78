/** The API suite again on the file system driver, with uploads hashed on a worker thread as `2dfs serve` does. */
import { afterAll } from "bun:test";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createSessionThread } from "../../src/hash/session-thread.ts";
import { createFilesystemDriver } from "../../src/registry/driver/filesystem.ts";
import { runApiSuite } from "./api-suite.ts";

const dirs: string[] = [];
const thread = createSessionThread();
afterAll(async () => {
  thread.close();
  for (const d of dirs) await rm(d, { recursive: true, force: true });
});

runApiSuite(
  "filesystem driver, hashing thread",
  async () => {
    const dir = await mkdtemp(join(tmpdir(), "2dfs-registry-thread-"));
    dirs.push(dir);
    return createFilesystemDriver(dir);
  },
  thread,
);
