/** The API suite again on the file system driver, with uploads hashed on a worker thread as `2dfs serve` does. */
import { afterAll } from "bun:test";
import { createSessionThread } from "../../src/hash/session-thread.ts";
import { createFilesystemDriver } from "../../src/registry/driver/filesystem.ts";
import { runApiSuite } from "./api-suite.ts";
import { tempDirs } from "../support/temp.ts";

const temp = tempDirs();
const thread = createSessionThread();
afterAll(async () => {
  thread.close();
  await temp.cleanup();
});

runApiSuite(
  "filesystem driver, hashing thread",
  async () => {
    const dir = await temp.make("2dfs-registry-thread-");
    return createFilesystemDriver(dir);
  },
  thread,
);
