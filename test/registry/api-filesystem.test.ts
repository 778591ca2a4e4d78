import { afterAll } from "bun:test";
import { createFilesystemDriver } from "../../src/registry/driver/filesystem.ts";
import { runApiSuite } from "./api-suite.ts";
import { tempDirs } from "../support/temp.ts";

const temp = tempDirs();
afterAll(temp.cleanup);

runApiSuite("filesystem driver", async () => {
  const dir = await temp.make("2dfs-registry-");
  return createFilesystemDriver(dir);
});
