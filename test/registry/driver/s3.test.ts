import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { createS3Driver } from "../../../src/registry/driver/s3.ts";
import { parseS3Url } from "../../../src/registry/driver/s3-location.ts";
import { type CephS3, startCephS3 } from "../../support/ceph-s3.ts";
import { runApiSuite } from "../api-suite.ts";
import { runDriverSuite } from "./driver-suite.ts";

let ceph: CephS3;
beforeAll(async () => {
  ceph = await startCephS3();
}, 120_000);
afterAll(() => ceph?.stop(), 60_000);

runDriverSuite("s3 (Ceph RGW)", async () => createS3Driver(ceph.location()));
runApiSuite("s3 driver (Ceph RGW)", async () => createS3Driver(ceph.location()));

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
    expect(await (await fetch(d.presignGet("b/data", 60))).text()).toBe("direct");
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
