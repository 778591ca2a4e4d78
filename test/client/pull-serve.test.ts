import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { mkdtemp, readFile, readdir, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join, relative } from "node:path";
import { pullImage } from "../../src/client/pull-image.ts";
import { createRegistryClient } from "../../src/client/transport/registry-client.ts";
import { createLayoutStore } from "../../src/content/layout-store.ts";
import { startRegistry } from "../../src/registry/server.ts";
import { type RunningRegistry, startDistribution } from "./support/distribution.ts";
import { buildFieldImage, pushTestImage } from "./support/images.ts";

let distribution: RunningRegistry;
let serve: { url: string; stop(): Promise<void> };
let work: string;

beforeAll(async () => {
  work = await mkdtemp(join(tmpdir(), "2dfs-serve-"));
  distribution = await startDistribution();
  serve = await startRegistry({ addr: "127.0.0.1:0", dataDir: join(work, "serve-data") });
});
afterAll(async () => {
  await distribution.stop();
  await serve.stop();
  await rm(work, { recursive: true, force: true });
});

async function listFiles(dir: string): Promise<Record<string, string>> {
  const out: Record<string, string> = {};
  for (const e of await readdir(dir, { recursive: true, withFileTypes: true })) {
    if (e.isFile()) out[relative(dir, join(e.parentPath, e.name))] = await readFile(join(e.parentPath, e.name), "utf8");
  }
  return out;
}

describe("pull from 2dfs serve and from the distribution registry", () => {
  for (const format of ["native", "reference"] as const) {
    test(`${format}: the same partition gives the same files, byte for byte, and only those`, async () => {
      const image = await buildFieldImage({ rows: 3, cols: 3, format });
      const serveHost = new URL(serve.url).host;
      for (const host of [distribution.host, serveHost]) {
        await pushTestImage(await createRegistryClient({ registry: host, credentials: null }), `cmp/${format}`, "v1", image);
      }
      const results: Record<string, string>[] = [];
      for (const host of [distribution.host, serveHost]) {
        const dir = join(work, `${format}-${host.replace(/[:.]/g, "_")}`);
        const store = await createLayoutStore(join(dir, "..", `store-${format}-${host.replace(/[:.]/g, "_")}`));
        await pullImage(`${host}/cmp/${format}:v1--1.1.2.2`, { dir, store });
        results.push(await listFiles(dir));
      }
      const expected: Record<string, string> = {};
      for (const a of image.allotments.filter((a) => a.row >= 1 && a.col >= 1)) Object.assign(expected, a.files);
      expect(results[0]).toEqual(expected);
      expect(results[1]).toEqual(expected);
    });
  }
});
