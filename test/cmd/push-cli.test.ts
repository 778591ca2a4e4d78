/** `2dfs push --chunk-size`: blobs over the size go up in PATCH chunks of it; a malformed size is a usage error. */
import { afterAll, beforeAll, expect, test } from "bun:test";
import { join } from "node:path";
import { startRegistry } from "../../src/registry/server.ts";
import { run2dfs } from "../support/cli.ts";
import { seededBytes, tempDirs, writeTree } from "../support/temp.ts";

const temps = tempDirs();
let dir: string;
let registry: { url: string; stop(): Promise<void> };
const log: string[] = [];
const store = () => join(dir, "store");

beforeAll(async () => {
  dir = await temps.make("2dfs-push-cli-");
  registry = await startRegistry({ addr: "127.0.0.1:0", log: (line) => log.push(line) });
  await writeTree(dir, {
    "big.bin": seededBytes(3 * 1024 * 1024 + 5, 11),
    "2dfs.json": JSON.stringify({ allotments: [{ src: "big.bin", dst: "/big.bin", row: 0, col: 0 }] }),
  });
  const built = await run2dfs(["build", "-t", "chunky:v1", "-f", join(dir, "2dfs.json"), "--compression", "none", "--store", store(), "-q"]);
  expect(built.code).toBe(0);
});
afterAll(async () => {
  await registry.stop();
  await temps.cleanup();
});

test("a 3 MiB layer with --chunk-size 1M goes up in four PATCHes and arrives whole", async () => {
  const host = new URL(registry.url).host;
  const pushed = await run2dfs(["push", "chunky:v1", `${host}/chunky:v1`, "--chunk-size", "1M", "--store", store(), "-q"]);
  expect({ code: pushed.code, stderr: pushed.stderr }).toEqual({ code: 0, stderr: "" });
  const patches = log.filter((l) => l.includes('"PATCH /v2/chunky/blobs/uploads/'));
  expect(patches).toHaveLength(4);
  const manifest = (await (await fetch(`${registry.url}/v2/chunky/manifests/v1`, { headers: { Accept: "application/vnd.oci.image.manifest.v1+json" } })).json()) as { layers: { digest: string; size: number }[] };
  const layer = manifest.layers.at(-1)!;
  const bytes = new Uint8Array(await (await fetch(`${registry.url}/v2/chunky/blobs/${layer.digest}`)).arrayBuffer());
  expect(bytes.byteLength).toBe(layer.size);
  expect(`sha256:${new Bun.CryptoHasher("sha256").update(bytes).digest("hex")}`).toBe(layer.digest);
});

test("a malformed --chunk-size is a usage error (exit 2) before anything is sent", async () => {
  const before = log.length;
  const r = await run2dfs(["push", "chunky:v1", `${new URL(registry.url).host}/chunky:v2`, "--chunk-size", "lots", "--store", store()]);
  expect(r.code).toBe(2);
  expect(r.stderr).toContain('error: --chunk-size "lots": expected a size of at least 1 byte, such as 5M or 1048576');
  expect(log.length).toBe(before);
});
