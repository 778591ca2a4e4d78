import { afterAll } from "bun:test";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createFilesystemDriver } from "../../src/registry/driver/filesystem.ts";
import { runApiSuite } from "./api-suite.ts";

const dirs: string[] = [];
afterAll(async () => {
  for (const d of dirs) await rm(d, { recursive: true, force: true });
});

runApiSuite("filesystem driver", async () => {
  const dir = await mkdtemp(join(tmpdir(), "2dfs-registry-"));
  dirs.push(dir);
  return createFilesystemDriver(dir);
});
