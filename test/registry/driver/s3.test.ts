import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { createS3Driver } from "../../../src/registry/driver/s3.ts";
import { parseS3Url } from "../../../src/registry/driver/s3-location.ts";
import { type CephS3, startCephS3 } from "../../support/ceph-s3.ts";
import type { StorageDriver } from "../../../src/registry/driver/driver.ts";
import { createTestClient, sha256 } from "../helpers.ts";
import { seededBytes } from "../../support/temp.ts";
import { runApiSuite } from "../api-suite.ts";
import { runDriverSuite } from "./driver-suite.ts";
import { runGcSuite } from "../gc-suite.ts";

let ceph: CephS3;
beforeAll(async () => {
  ceph = await startCephS3();
}, 120_000);
afterAll(() => ceph?.stop(), 60_000);

runDriverSuite("s3 (Ceph RGW)", async () => createS3Driver(ceph.location()));
runApiSuite("s3 driver (Ceph RGW)", async () => createS3Driver(ceph.location()));
// Each call a new driver on one prefix: two registry instances, as replicas on one bucket are.
const gcPrefix = `gc-${crypto.randomUUID()}`;
runGcSuite("s3 (Ceph RGW), two instances on one bucket", async () => createS3Driver(ceph.location(gcPrefix)));

describe("two registries on one bucket", () => {
  // A driver that fails the test if anything reads back an upload's data through it.
  const noReadBack = (d: StorageDriver): StorageDriver => ({
    ...d,
    reader(path, offset, end) {
      if (path.includes("/_uploads/")) throw new Error(`upload data read back: ${path} [${offset}, ${end})`);
      return d.reader(path, offset, end);
    },
  });

  test("chunks alternate between instances; the hash state in storage carries over; no instance reads the bytes back", async () => {
    const location = ceph.location();
    const a = createTestClient({ driver: noReadBack(createS3Driver(location)) });
    const b = createTestClient({ driver: noReadBack(createS3Driver(location)) });
    const blob = seededBytes(3_000_000, 7);
    const digest = sha256(blob);
    const location0 = (await a.req("POST", "/v2/x/y/blobs/uploads/")).headers.get("location")!;
    const chunk = 700_000;
    for (let at = 0, i = 0; at < blob.length; at += chunk, i++) {
      const body = blob.subarray(at, Math.min(at + chunk, blob.length));
      const via = i % 2 === 0 ? a : b;
      const r = await via.req("PATCH", location0, { body, headers: { "Content-Range": `${at}-${at + body.length - 1}` } });
      expect(r.status).toBe(202);
      expect(r.headers.get("range")).toBe(`0-${at + body.length - 1}`);
      // The running SHA-256 is in the session's state document, not in a process.
      const id = location0.split("/").pop()!;
      const state = JSON.parse(new TextDecoder().decode(await via.driver.read(`repositories/x/y/_uploads/${id}/state`)));
      expect(state.offset).toBe(at + body.length);
      expect(typeof state.sha256).toBe("string");
    }
    const done = await a.req("PUT", `${location0}?digest=${digest}`);
    expect(done.status).toBe(201);
    const got = new Uint8Array(await (await b.req("GET", `/v2/x/y/blobs/${digest}`)).arrayBuffer());
    expect(got.length).toBe(blob.length);
    expect(sha256(got)).toBe(digest);
    // A wrong digest is still refused, from the saved state alone.
    const l2 = (await b.req("POST", "/v2/x/y/blobs/uploads/")).headers.get("location")!;
    await a.req("PATCH", l2, { body: blob.subarray(0, 10), headers: { "Content-Range": "0-9" } });
    expect((await b.req("PUT", `${l2}?digest=${sha256("other")}`)).status).toBe(400);
  });

  test("a tag written through one instance is served by the other at once", async () => {
    const location = ceph.location();
    const a = createTestClient({ driver: createS3Driver(location) });
    const b = createTestClient({ driver: createS3Driver(location) });
    const config = new TextEncoder().encode("{}");
    const cd = sha256(config);
    expect((await a.req("POST", `/v2/r/blobs/uploads/?digest=${cd}`, { body: config })).status).toBe(201);
    const manifest = JSON.stringify({ schemaVersion: 2, mediaType: "application/vnd.oci.image.manifest.v1+json", config: { mediaType: "application/vnd.oci.image.config.v1+json", digest: cd, size: 2 }, layers: [] });
    const headers = { "Content-Type": "application/vnd.oci.image.manifest.v1+json" };
    expect((await a.req("PUT", "/v2/r/manifests/v1", { body: manifest, headers })).status).toBe(201);
    expect((await b.req("GET", "/v2/r/manifests/v1", { headers: { Accept: headers["Content-Type"] } })).status).toBe(200);
    // Concurrent writes of one tag: one of them wins whole, on both instances.
    const m2 = manifest.replace('"layers":[]', '"layers":[],"annotations":{"n":"2"}');
    const [ra, rb] = await Promise.all([a.req("PUT", "/v2/r/manifests/v1", { body: manifest, headers }), b.req("PUT", "/v2/r/manifests/v1", { body: m2, headers })]);
    expect([ra.status, rb.status]).toEqual([201, 201]);
    const fromA = (await a.req("HEAD", "/v2/r/manifests/v1", { headers: { Accept: headers["Content-Type"] } })).headers.get("docker-content-digest");
    const fromB = (await b.req("HEAD", "/v2/r/manifests/v1", { headers: { Accept: headers["Content-Type"] } })).headers.get("docker-content-digest");
    expect(fromA).toBe(fromB);
    expect([sha256(manifest), sha256(m2)] as string[]).toContain(fromA!);
    expect(await (await b.req("GET", "/v2/r/tags/list")).json()).toEqual({ name: "r", tags: ["v1"] });
  });
});

describe("s3 driver specifics", () => {
  test("appended files are segment lists: hidden from list(), gone with their folder, concatenated by move", async () => {
    const d = createS3Driver(ceph.location());
    const enc = (s: string) => new TextEncoder().encode(s);
    await d.write("up/data", new Uint8Array(0));
    expect(await d.append("up/data", enc("abc"))).toBe(3);
    expect(await d.append("up/data", enc("def"))).toBe(6);
    expect(await d.list("up")).toEqual(["data"]);
    expect(new TextDecoder().decode(await d.read("up/data"))).toBe("abcdef");
    expect(await new Response(d.reader("up/data", 2, 5)).text()).toBe("cde");
    await d.truncate("up/data", 4);
    expect(await new Response(d.reader("up/data")).text()).toBe("abcd");
    await d.move("up/data", "blob/data");
    expect(new TextDecoder().decode(await d.read("blob/data"))).toBe("abcd");
    expect(await d.list("up")).toEqual([]);
    // No segment object is left behind anywhere under the prefix.
    const c = new Bun.S3Client({ ...ceph.location(), endpoint: ceph.env.S3_ENDPOINT, bucket: ceph.env.S3_BUCKET });
    const keys = (await c.list({ prefix: `${d.location.prefix}/` })).contents?.map((o) => o.key) ?? [];
    expect(keys).toEqual([`${d.location.prefix}/blob/data`]);
  });

  test("a presigned GET serves the stored bytes without the registry", async () => {
    const d = createS3Driver(ceph.location());
    await d.write("b/data", new TextEncoder().encode("direct"));
    expect(await (await fetch(d.directUrl("b/data", 60))).text()).toBe("direct");
  });

  test("startup check names wrong credentials, a missing bucket and an unreachable endpoint", async () => {
    const good = ceph.location();
    await createS3Driver(good).check();
    await expect(createS3Driver({ ...good, secretAccessKey: "wrong" }).check()).rejects.toThrow(/refused the credentials for bucket "tdfs"/);
    await expect(createS3Driver({ ...good, bucket: "no-such-bucket" }).check()).rejects.toThrow(/bucket "no-such-bucket" does not exist at http:\/\/127\.0\.0\.1:\d+$/);
    await expect(createS3Driver({ ...good, endpoint: "http://127.0.0.1:1" }).check()).rejects.toThrow(/cannot reach object storage at http:\/\/127\.0\.0\.1:1 /);
  });
});

test("parseS3Url reads bucket, prefix, endpoint, region and keys from the environment", () => {
  const env = { AWS_ACCESS_KEY_ID: "a", AWS_SECRET_ACCESS_KEY: "s" };
  expect(parseS3Url("s3://bkt/some/prefix/?endpoint=http://127.0.0.1:9000&region=eu-1", env)).toEqual({
    bucket: "bkt", prefix: "some/prefix", endpoint: "http://127.0.0.1:9000", region: "eu-1", accessKeyId: "a", secretAccessKey: "s",
  });
  expect(parseS3Url("s3://bkt", { ...env, S3_ENDPOINT: "http://h:1" }).prefix).toBe("");
  expect(() => parseS3Url("s3://bkt?endpoint=http://h:1", {})).toThrow(/no S3 credentials: set AWS_ACCESS_KEY_ID/);
  expect(() => parseS3Url("s3://bkt", env)).toThrow(/no S3 endpoint/);
  expect(() => parseS3Url("s3://bkt/../x?endpoint=http://h:1", env)).toThrow(/invalid key prefix/);
  expect(() => parseS3Url("file:///x", env)).toThrow(/invalid storage URL/);
});
