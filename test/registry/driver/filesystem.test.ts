import { afterAll } from "bun:test";
import { createFilesystemDriver } from "../../../src/registry/driver/filesystem.ts";
import { runDriverSuite } from "./driver-suite.ts";
import { tempDirs } from "../../support/temp.ts";

const temp = tempDirs();
afterAll(temp.cleanup);

runDriverSuite("filesystem", async () => {
  const dir = await temp.make("2dfs-driver-");
  return createFilesystemDriver(dir);
});
