import { afterAll, expect, test } from "bun:test";
import { readdir } from "node:fs/promises";
import { join } from "node:path";
import { createFilesystemDriver } from "../../src/registry/driver/filesystem.ts";
import { createTestClient, enc, sha256 } from "./helpers.ts";
import { tempDirs } from "../support/temp.ts";

const temp = tempDirs();
afterAll(temp.cleanup);

test("an upload survives a restart: no partial blob visible, session resumable, half-written chunk dropped", async () => {
  const dir = await temp.make("2dfs-restart-");
  const part1 = new Uint8Array(300_000).map((_, i) => i % 256);
  const part2 = new Uint8Array(200_000).map((_, i) => (i * 7) % 256);
  const whole = new Uint8Array([...part1, ...part2]);
  const digest = sha256(whole);

  const before = createTestClient({ driver: createFilesystemDriver(dir) });
  const location = (await before.req("POST", "/v2/up/blobs/uploads/")).headers.get("location")!;
  expect((await before.req("PATCH", location, { body: part1, headers: { "Content-Range": `0-${part1.length - 1}` } })).status).toBe(202);
  // The process dies while writing the next chunk: bytes land in the data file, never acknowledged.
  const id = location.split("/").pop()!;
  await before.driver.append(`repositories/up/_uploads/${id}/data`, enc("garbage from a dying process"));

  const after = createTestClient({ driver: createFilesystemDriver(dir) });
  expect((await after.req("HEAD", `/v2/up/blobs/${digest}`)).status).toBe(404);
  const status = await after.req("GET", location);
  expect(status.status).toBe(204);
  expect(status.headers.get("range")).toBe(`0-${part1.length - 1}`);
  const out = await after.req("PATCH", location, { body: part2, headers: { "Content-Range": `${part1.length}-${whole.length - 1}` } });
  expect(out.headers.get("range")).toBe(`0-${whole.length - 1}`);
  const put = await after.req("PUT", `${location}?digest=${digest}`);
  expect(put.status).toBe(201);
  const got = new Uint8Array(await (await after.req("GET", `/v2/up/blobs/${digest}`)).arrayBuffer());
  expect(sha256(got)).toBe(digest);
  expect(await readdir(join(dir, "repositories/up/_uploads"))).toEqual([]);
});

test("a killed monolithic upload leaves no visible blob", async () => {
  const dir = await temp.make("2dfs-restart-");
  const c = createTestClient({ driver: createFilesystemDriver(dir) });
  const digest = sha256("full content");
  const body = new ReadableStream<Uint8Array>({
    start(controller) {
      controller.enqueue(enc("full"));
      controller.error(new Error("connection reset"));
    },
  });
  const r = await c.app.handle(new Request(`http://localhost/v2/k/blobs/uploads/?digest=${digest}`, { method: "POST", body, duplex: "half" } as RequestInit));
  expect(r.status).toBeGreaterThanOrEqual(400);
  const again = createTestClient({ driver: createFilesystemDriver(dir) });
  expect((await again.req("HEAD", `/v2/k/blobs/${digest}`)).status).toBe(404);
});
