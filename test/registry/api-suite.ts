/** The distribution-spec API tests, run once per storage driver. */
import { describe, expect, test } from "bun:test";
import type { StorageDriver } from "../../src/registry/driver/driver.ts";
import type { SessionHashes } from "../../src/hash/session-hashes.ts";
import { createTestClient, enc, errorOf, json, pushImageParts, sha256, sha512 } from "./helpers.ts";

const OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json";
const OCI_INDEX = "application/vnd.oci.image.index.v1+json";
const DOCKER_MANIFEST = "application/vnd.docker.distribution.manifest.v2+json";

/** Runs the API suite with a fresh driver per test (and, when given, uploads hashed on that thread). */
export function runApiSuite(driverName: string, makeDriver: () => Promise<StorageDriver>, hashThread?: SessionHashes): void {
  const client = async () => createTestClient({ driver: await makeDriver(), hashThread });

  describe(`registry API (${driverName})`, () => {
    test("/v2/ answers 200 with the API version header", async () => {
      const c = await client();
      const r = await c.req("GET", "/v2/");
      expect(r.status).toBe(200);
      expect(r.headers.get("docker-distribution-api-version")).toBe("registry/2.0");
    });

    test("monolithic POST, then GET/HEAD with headers and no Content-Range on 200", async () => {
      const c = await client();
      const data = "hello blob";
      const digest = await c.pushBlob("a/b", data);
      const head = await c.req("HEAD", `/v2/a/b/blobs/${digest}`);
      expect(head.status).toBe(200);
      expect(head.headers.get("content-length")).toBe(String(data.length));
      expect(head.headers.get("docker-content-digest")).toBe(digest);
      const get = await c.req("GET", `/v2/a/b/blobs/${digest}`);
      expect(get.status).toBe(200);
      expect(get.headers.get("content-range")).toBeNull();
      expect(await get.text()).toBe(data);
    });

    test("Range gives 206 with Content-Range; bad ranges 416", async () => {
      const c = await client();
      const digest = await c.pushBlob("r", "0123456789");
      const r = await c.req("GET", `/v2/r/blobs/${digest}`, { headers: { Range: "bytes=2-5" } });
      expect(r.status).toBe(206);
      expect(r.headers.get("content-range")).toBe("bytes 2-5/10");
      expect(r.headers.get("content-length")).toBe("4");
      expect(await r.text()).toBe("2345");
      const suffix = await c.req("GET", `/v2/r/blobs/${digest}`, { headers: { Range: "bytes=-3" } });
      expect(await suffix.text()).toBe("789");
      const open = await c.req("GET", `/v2/r/blobs/${digest}`, { headers: { Range: "bytes=8-" } });
      expect(await open.text()).toBe("89");
      for (const range of ["bytes=10-12", "bytes=5-2", "items=0-1", "bytes=0-1,3-4"]) {
        const bad = await c.req("GET", `/v2/r/blobs/${digest}`, { headers: { Range: range } });
        expect(bad.status).toBe(416);
        expect((await errorOf(bad)).code).toBe("RANGE_INVALID");
      }
    });

    test("unknown blob 404 BLOB_UNKNOWN; bad digest 400 DIGEST_INVALID; bad name NAME_INVALID", async () => {
      const c = await client();
      const missing = await c.req("GET", `/v2/x/blobs/${sha256("nothing")}`);
      expect(await errorOf(missing)).toMatchObject({ status: 404, code: "BLOB_UNKNOWN" });
      const bad = await c.req("GET", "/v2/x/blobs/sha256:zz");
      expect(await errorOf(bad)).toMatchObject({ status: 400, code: "DIGEST_INVALID" });
      const name = await c.req("GET", `/v2/Upper/blobs/${sha256("x")}`);
      expect(await errorOf(name)).toMatchObject({ status: 400, code: "NAME_INVALID" });
    });

    test("blobs are visible only in repositories that link them", async () => {
      const c = await client();
      const digest = await c.pushBlob("one", "shared");
      expect((await c.req("HEAD", `/v2/two/blobs/${digest}`)).status).toBe(404);
    });

    test("chunked upload: POST, PATCH in order, status GET, PUT", async () => {
      const c = await client();
      const start = await c.req("POST", "/v2/chunky/blobs/uploads/");
      expect(start.status).toBe(202);
      const location = start.headers.get("location")!;
      expect(location).toMatch(/^\/v2\/chunky\/blobs\/uploads\/[0-9a-f-]{36}$/);
      expect(start.headers.get("docker-upload-uuid")).toBe(location.split("/").pop()!);
      const p1 = await c.req("PATCH", location, { body: "abc", headers: { "Content-Range": "0-2", "Content-Type": "application/octet-stream" } });
      expect(p1.status).toBe(202);
      expect(p1.headers.get("range")).toBe("0-2");
      const outOfOrder = await c.req("PATCH", location, { body: "xyz", headers: { "Content-Range": "5-7" } });
      expect(outOfOrder.status).toBe(416);
      const status = await c.req("GET", location);
      expect(status.status).toBe(204);
      expect(status.headers.get("range")).toBe("0-2");
      expect(status.headers.get("location")).toBe(location);
      const p2 = await c.req("PATCH", location, { body: "def", headers: { "Content-Range": "3-5" } });
      expect(p2.headers.get("range")).toBe("0-5");
      const put = await c.req("PUT", `${location}?digest=${sha256("abcdefghi")}`, { body: "ghi", headers: { "Content-Range": "6-8" } });
      expect(put.status).toBe(201);
      expect(put.headers.get("location")).toBe(`/v2/chunky/blobs/${sha256("abcdefghi")}`);
      expect(put.headers.get("docker-content-digest")).toBe(sha256("abcdefghi"));
      expect(await (await c.req("GET", `/v2/chunky/blobs/${sha256("abcdefghi")}`)).text()).toBe("abcdefghi");
      expect((await errorOf(await c.req("GET", location))).code).toBe("BLOB_UPLOAD_UNKNOWN");
    });

    test("PATCH without Content-Range streams; Content-Length mismatch is SIZE_INVALID", async () => {
      const c = await client();
      const location = (await c.req("POST", "/v2/s/blobs/uploads/")).headers.get("location")!;
      expect((await c.req("PATCH", location, { body: "12345" })).headers.get("range")).toBe("0-4");
      const bad = await c.req("PATCH", location, { body: "67", headers: { "Content-Range": "5-9" } });
      expect(bad.status).toBe(400);
      expect((await errorOf(bad)).code).toBe("SIZE_INVALID");
      // The failed chunk left nothing behind.
      expect((await c.req("GET", location)).headers.get("range")).toBe("0-4");
      const put = await c.req("PUT", `${location}?digest=${sha256("12345")}`);
      expect(put.status).toBe(201);
    });

    test("wrong digest: DIGEST_INVALID, nothing stored, session gone", async () => {
      const c = await client();
      const mono = await c.req("POST", `/v2/w/blobs/uploads/?digest=${sha256("other")}`, { body: "content" });
      expect(await errorOf(mono)).toMatchObject({ status: 400, code: "DIGEST_INVALID" });
      expect((await c.req("HEAD", `/v2/w/blobs/${sha256("content")}`)).status).toBe(404);
      const location = (await c.req("POST", "/v2/w/blobs/uploads/")).headers.get("location")!;
      await c.req("PATCH", location, { body: "content" });
      const put = await c.req("PUT", `${location}?digest=${sha256("nope")}`);
      const err = await errorOf(put);
      expect(err.code).toBe("DIGEST_INVALID");
      expect(String(err.detail)).toContain(sha256("content"));
      expect((await c.req("HEAD", `/v2/w/blobs/${sha256("content")}`)).status).toBe(404);
      expect((await c.req("GET", location)).status).toBe(404);
      const missing = await c.req("PUT", (await c.req("POST", "/v2/w/blobs/uploads/")).headers.get("location")!);
      expect((await errorOf(missing)).code).toBe("DIGEST_INVALID");
    });

    test("sha512 digests are accepted for uploads", async () => {
      const c = await client();
      const digest = sha512("five twelve");
      const r = await c.req("POST", `/v2/x/blobs/uploads/?digest=${digest}`, { body: "five twelve" });
      expect(r.status).toBe(201);
      const get = await c.req("GET", `/v2/x/blobs/${digest}`);
      expect(get.headers.get("docker-content-digest")).toBe(digest);
      expect(await get.text()).toBe("five twelve");
    });

    test("cancel an upload with DELETE", async () => {
      const c = await client();
      const location = (await c.req("POST", "/v2/c/blobs/uploads/")).headers.get("location")!;
      expect((await c.req("DELETE", location)).status).toBe(204);
      expect((await errorOf(await c.req("PATCH", location, { body: "x" }))).code).toBe("BLOB_UPLOAD_UNKNOWN");
      expect((await c.req("DELETE", location)).status).toBe(404);
    });

    test("cross-repository mount: 201 when mounted, 202 session otherwise", async () => {
      const c = await client();
      const digest = await c.pushBlob("src", "mount me");
      const ok = await c.req("POST", `/v2/dst/blobs/uploads/?mount=${digest}&from=src`);
      expect(ok.status).toBe(201);
      expect(ok.headers.get("location")).toBe(`/v2/dst/blobs/${digest}`);
      expect(await (await c.req("GET", `/v2/dst/blobs/${digest}`)).text()).toBe("mount me");
      const notThere = await c.req("POST", `/v2/dst2/blobs/uploads/?mount=${sha256("absent")}&from=src`);
      expect(notThere.status).toBe(202);
      expect(notThere.headers.get("location")).toContain("/v2/dst2/blobs/uploads/");
      const noFrom = await c.req("POST", `/v2/dst3/blobs/uploads/?mount=${digest}`);
      expect(noFrom.status).toBe(202);
    });

    test("blob DELETE unlinks (202), then 404", async () => {
      const c = await client();
      const digest = await c.pushBlob("d", "bye");
      expect((await c.req("DELETE", `/v2/d/blobs/${digest}`)).status).toBe(202);
      expect((await c.req("GET", `/v2/d/blobs/${digest}`)).status).toBe(404);
      expect((await c.req("DELETE", `/v2/d/blobs/${digest}`)).status).toBe(404);
    });

    test("manifest PUT/GET/HEAD by tag and digest", async () => {
      const c = await client();
      const manifest = await pushImageParts(c, "img");
      const { digest, bytes, response } = await c.pushManifest("img", "v1", manifest);
      expect(response.headers.get("docker-content-digest")).toBe(digest);
      expect(response.headers.get("location")).toBe(`/v2/img/manifests/${digest}`);
      for (const ref of ["v1", digest]) {
        const get = await c.req("GET", `/v2/img/manifests/${ref}`, { headers: { Accept: OCI_MANIFEST } });
        expect(get.status).toBe(200);
        expect(get.headers.get("content-type")).toBe(OCI_MANIFEST);
        expect(get.headers.get("docker-content-digest")).toBe(digest);
        expect(new Uint8Array(await get.arrayBuffer())).toEqual(bytes);
        const head = await c.req("HEAD", `/v2/img/manifests/${ref}`);
        expect(head.status).toBe(200);
        expect(head.headers.get("content-length")).toBe(String(bytes.byteLength));
      }
      const byDigest = await c.req("PUT", `/v2/img/manifests/${digest}`, { body: bytes, headers: { "Content-Type": OCI_MANIFEST } });
      expect(byDigest.status).toBe(201);
      const wrong = await c.req("PUT", `/v2/img/manifests/${sha256("x")}`, { body: bytes, headers: { "Content-Type": OCI_MANIFEST } });
      expect((await errorOf(wrong)).code).toBe("DIGEST_INVALID");
    });

    test("PUT by digest with ?tag= creates every tag and names each in OCI-Tag", async () => {
      const c = await client();
      const bytes = json(await pushImageParts(c, "tp"));
      const digest = sha256(bytes);
      const r = await c.req("PUT", `/v2/tp/manifests/${digest}?tag=1.2.3&tag=1.2&tag=latest&tag=1.2`, {
        body: bytes,
        headers: { "Content-Type": OCI_MANIFEST },
      });
      expect(r.status).toBe(201);
      expect(r.headers.get("docker-content-digest")).toBe(digest);
      const named = r.headers.get("oci-tag")!.split(",").map((t) => t.trim());
      expect(named.sort()).toEqual(["1.2", "1.2.3", "latest"]);
      for (const tag of ["1.2.3", "1.2", "latest"]) {
        const get = await c.req("GET", `/v2/tp/manifests/${tag}`);
        expect(get.status).toBe(200);
        expect(get.headers.get("docker-content-digest")).toBe(digest);
      }
      expect(await (await c.req("GET", "/v2/tp/tags/list")).json()).toEqual({ name: "tp", tags: ["1.2", "1.2.3", "latest"] });
      const plain = await c.req("PUT", `/v2/tp/manifests/${digest}`, { body: bytes, headers: { "Content-Type": OCI_MANIFEST } });
      expect(plain.headers.get("oci-tag")).toBeNull();
    });

    test("?tag= with a bad tag, on a PUT by tag, or too many: rejected before anything is stored", async () => {
      const c = await client();
      const bytes = json(await pushImageParts(c, "tb"));
      const digest = sha256(bytes);
      const put = (query: string, ref: string = digest) =>
        c.req("PUT", `/v2/tb/manifests/${ref}${query}`, { body: bytes, headers: { "Content-Type": OCI_MANIFEST } });
      for (const bad of ["-dash", ".dot", "a:b", "x".repeat(129), ""]) {
        const r = await put(`?tag=good&tag=${encodeURIComponent(bad)}`);
        const err = await errorOf(r);
        expect(err).toMatchObject({ status: 400, code: "MANIFEST_INVALID" });
        expect(String(err.detail)).toContain("is not a valid tag");
      }
      const byTag = await errorOf(await put("?tag=other", "v1"));
      expect(byTag).toMatchObject({ status: 400, code: "MANIFEST_INVALID" });
      expect(String(byTag.detail)).toContain("PUT by digest");
      const many = Array.from({ length: 101 }, (_, i) => `tag=t${i}`).join("&");
      expect((await errorOf(await put(`?${many}`))).status).toBe(414);
      expect((await c.req("GET", "/v2/tb/manifests/good")).status).toBe(404);
      expect((await c.req("GET", "/v2/tb/manifests/v1")).status).toBe(404);
      expect((await c.req("GET", `/v2/tb/manifests/${digest}`)).status).toBe(404);
      const ten = Array.from({ length: 10 }, (_, i) => `tag=t${i}`).join("&");
      const ok = await put(`?${ten}`);
      expect(ok.status).toBe(201);
      expect(ok.headers.get("oci-tag")!.split(",").length).toBe(10);
    });

    test("sha512 manifests: by digest with ?tag=, then by tag, keep sha512; wrong or malformed sha512 is DIGEST_INVALID", async () => {
      const c = await client();
      const bytes = json(await pushImageParts(c, "five"));
      const digest = sha512(bytes);
      const r = await c.req("PUT", `/v2/five/manifests/${digest}?tag=v1`, { body: bytes, headers: { "Content-Type": OCI_MANIFEST } });
      expect(r.status).toBe(201);
      expect(r.headers.get("docker-content-digest")).toBe(digest);
      expect(r.headers.get("location")).toBe(`/v2/five/manifests/${digest}`);
      expect(r.headers.get("oci-tag")).toBe("v1");
      for (const ref of ["v1", digest]) {
        const head = await c.req("HEAD", `/v2/five/manifests/${ref}`);
        expect(head.status).toBe(200);
        expect(head.headers.get("docker-content-digest")).toBe(digest);
      }
      // The same bytes pushed by tag: the client already named them by sha512, so the tag does too.
      const byTag = await c.req("PUT", "/v2/five/manifests/v2", { body: bytes, headers: { "Content-Type": OCI_MANIFEST } });
      expect(byTag.status).toBe(201);
      expect(byTag.headers.get("docker-content-digest")).toBe(digest);
      expect((await c.req("GET", "/v2/five/manifests/v2")).headers.get("docker-content-digest")).toBe(digest);
      // Bytes never named by sha512 in this repository are named by sha256.
      const fresh = await c.req("PUT", "/v2/other/manifests/v1", { body: json(await pushImageParts(c, "other")), headers: { "Content-Type": OCI_MANIFEST } });
      expect(fresh.headers.get("docker-content-digest")).toStartWith("sha256:");
      const wrong = await c.req("PUT", `/v2/five/manifests/${sha512("other bytes")}?tag=w`, { body: bytes, headers: { "Content-Type": OCI_MANIFEST } });
      expect(await errorOf(wrong)).toMatchObject({ status: 400, code: "DIGEST_INVALID" });
      expect((await c.req("GET", "/v2/five/manifests/w")).status).toBe(404);
      for (const malformed of ["sha512:abc", `sha512:${"A".repeat(128)}`, `sha384:${"a".repeat(96)}`]) {
        const m = await c.req("PUT", `/v2/five/manifests/${malformed}`, { body: bytes, headers: { "Content-Type": OCI_MANIFEST } });
        expect(await errorOf(m)).toMatchObject({ status: 400, code: "DIGEST_INVALID" });
      }
    });

    test("Accept negotiation: OCI vs Docker types", async () => {
      const c = await client();
      const manifest = await pushImageParts(c, "neg");
      await c.pushManifest("neg", "v1", manifest);
      const dockerOnly = await c.req("GET", "/v2/neg/manifests/v1", { headers: { Accept: DOCKER_MANIFEST } });
      expect(await errorOf(dockerOnly)).toMatchObject({ status: 404, code: "MANIFEST_UNKNOWN" });
      const both = await c.req("GET", "/v2/neg/manifests/v1", { headers: { Accept: `${DOCKER_MANIFEST}, ${OCI_MANIFEST};q=0.9` } });
      expect(both.status).toBe(200);
      const docker = { ...manifest, mediaType: DOCKER_MANIFEST };
      await c.pushManifest("neg", "d", docker, DOCKER_MANIFEST);
      const got = await c.req("GET", "/v2/neg/manifests/d", { headers: { Accept: DOCKER_MANIFEST } });
      expect(got.headers.get("content-type")).toBe(DOCKER_MANIFEST);
      expect((await c.req("GET", "/v2/neg/manifests/d", { headers: { Accept: "*/*" } })).status).toBe(200);
    });

    test("manifest validation: invalid JSON, missing blobs, size limit", async () => {
      const c = await client();
      const bad = await c.req("PUT", "/v2/v/manifests/t", { body: "{nope", headers: { "Content-Type": OCI_MANIFEST } });
      const err = await errorOf(bad);
      expect(err).toMatchObject({ status: 400, code: "MANIFEST_INVALID" });
      expect(String(err.detail)).toContain("invalid JSON");
      const manifest = await pushImageParts(c, "v");
      const missingLayer = { ...manifest, layers: [{ mediaType: "application/vnd.oci.image.layer.v1.tar", digest: sha256("ghost"), size: 5 }] };
      const r = await c.req("PUT", "/v2/v/manifests/t", { body: json(missingLayer), headers: { "Content-Type": OCI_MANIFEST } });
      const e2 = await errorOf(r);
      expect(e2).toMatchObject({ status: 404, code: "MANIFEST_BLOB_UNKNOWN" });
      expect(String(e2.detail)).toContain(sha256("ghost"));
      const index = { schemaVersion: 2, mediaType: OCI_INDEX, manifests: [{ mediaType: OCI_MANIFEST, digest: sha256("child"), size: 3 }] };
      const r2 = await c.req("PUT", "/v2/v/manifests/i", { body: json(index), headers: { "Content-Type": OCI_INDEX } });
      expect((await errorOf(r2)).code).toBe("MANIFEST_BLOB_UNKNOWN");
      const huge = new Uint8Array(4 * 1024 * 1024 + 1).fill(32);
      const r3 = await c.req("PUT", "/v2/v/manifests/h", { body: huge, headers: { "Content-Type": OCI_MANIFEST } });
      expect(r3.status).toBe(413);
      expect((await errorOf(r3)).code).toBe("MANIFEST_INVALID");
    });

    test("index with children, and unknown manifests", async () => {
      const c = await client();
      const child = await c.pushManifest("ix", "child", await pushImageParts(c, "ix"));
      const index = {
        schemaVersion: 2,
        mediaType: OCI_INDEX,
        manifests: [{ mediaType: OCI_MANIFEST, digest: child.digest, size: child.bytes.byteLength, platform: { os: "linux", architecture: "amd64" } }],
      };
      const { digest } = await c.pushManifest("ix", "multi", index, OCI_INDEX);
      const get = await c.req("GET", "/v2/ix/manifests/multi");
      expect(get.headers.get("content-type")).toBe(OCI_INDEX);
      expect(get.headers.get("docker-content-digest")).toBe(digest);
      expect(await errorOf(await c.req("GET", "/v2/ix/manifests/nope"))).toMatchObject({ status: 404, code: "MANIFEST_UNKNOWN" });
      expect((await c.req("GET", `/v2/ix/manifests/${sha256("nope")}`)).status).toBe(404);
    });

    test("manifest DELETE by tag keeps the manifest; by digest removes it and its tags", async () => {
      const c = await client();
      const { digest } = await c.pushManifest("del", "a", await pushImageParts(c, "del"));
      await c.pushManifest("del", "b", await pushImageParts(c, "del"));
      expect((await c.req("DELETE", "/v2/del/manifests/a")).status).toBe(202);
      expect((await c.req("GET", "/v2/del/manifests/a")).status).toBe(404);
      expect((await c.req("GET", `/v2/del/manifests/${digest}`)).status).toBe(200);
      expect((await c.req("DELETE", `/v2/del/manifests/${digest}`)).status).toBe(202);
      expect((await c.req("GET", `/v2/del/manifests/${digest}`)).status).toBe(404);
      expect((await c.req("GET", "/v2/del/manifests/b")).status).toBe(404);
      expect((await c.req("DELETE", `/v2/del/manifests/${digest}`)).status).toBe(404);
    });

    test("tags list with n/last and Link; unknown repository NAME_UNKNOWN", async () => {
      const c = await client();
      const manifest = await pushImageParts(c, "t/list");
      for (const tag of ["c", "a", "b", "d"]) await c.pushManifest("t/list", tag, manifest);
      const all = await c.req("GET", "/v2/t/list/tags/list");
      expect(await all.json()).toEqual({ name: "t/list", tags: ["a", "b", "c", "d"] });
      const page = await c.req("GET", "/v2/t/list/tags/list?n=2");
      expect(await page.json()).toEqual({ name: "t/list", tags: ["a", "b"] });
      expect(page.headers.get("link")).toBe('</v2/t/list/tags/list?n=2&last=b>; rel="next"');
      const next = await c.req("GET", "/v2/t/list/tags/list?n=2&last=b");
      expect(await next.json()).toEqual({ name: "t/list", tags: ["c", "d"] });
      expect(next.headers.get("link")).toBeNull();
      const zero = await c.req("GET", "/v2/t/list/tags/list?n=0");
      expect(((await zero.json()) as { tags: string[] }).tags).toEqual([]);
      expect(await errorOf(await c.req("GET", "/v2/nobody/tags/list"))).toMatchObject({ status: 404, code: "NAME_UNKNOWN" });
    });

    test("referrers: subject -> OCI-Subject, listing, artifactType filter", async () => {
      const c = await client();
      const subject = await c.pushManifest("ref", "v1", await pushImageParts(c, "ref"));
      const empty = await c.pushBlob("ref", "{}");
      const art = (artifactType: string, note: string) => ({
        schemaVersion: 2,
        mediaType: OCI_MANIFEST,
        artifactType,
        config: { mediaType: "application/vnd.oci.empty.v1+json", digest: empty, size: 2 },
        layers: [{ mediaType: "application/vnd.oci.empty.v1+json", digest: empty, size: 2 }],
        subject: { mediaType: OCI_MANIFEST, digest: subject.digest, size: subject.bytes.byteLength },
        annotations: { note },
      });
      const sig = await c.pushManifest("ref", sha256(JSON.stringify(art("application/sig", "s"))), art("application/sig", "s"));
      expect(sig.response.headers.get("oci-subject")).toBe(subject.digest);
      const sbom = await c.pushManifest("ref", "sbom", art("application/sbom", "b"));
      const list = await c.req("GET", `/v2/ref/referrers/${subject.digest}`);
      expect(list.headers.get("content-type")).toBe(OCI_INDEX);
      const body = (await list.json()) as { manifests: { digest: string; artifactType: string; annotations: Record<string, string> }[] };
      expect(body.manifests.map((m) => m.digest).sort()).toEqual([sig.digest, sbom.digest].sort());
      expect(body.manifests.find((m) => m.digest === sig.digest)?.annotations).toEqual({ note: "s" });
      const filtered = await c.req("GET", `/v2/ref/referrers/${subject.digest}?artifactType=application/sbom`);
      expect(filtered.headers.get("oci-filters-applied")).toBe("artifactType");
      expect(((await filtered.json()) as { manifests: { digest: string }[] }).manifests.map((m) => m.digest)).toEqual([sbom.digest]);
      const none = await c.req("GET", `/v2/ref/referrers/${sha256("other")}`);
      expect(none.status).toBe(200);
      expect(((await none.json()) as { manifests: unknown[] }).manifests).toEqual([]);
      await c.req("DELETE", `/v2/ref/manifests/${sbom.digest}`);
      const after = (await (await c.req("GET", `/v2/ref/referrers/${subject.digest}`)).json()) as { manifests: { digest: string }[] };
      expect(after.manifests.map((m) => m.digest)).toEqual([sig.digest]);
    });

    test("_catalog with n/last", async () => {
      const c = await client();
      for (const name of ["b/y", "a", "b/x/z"]) await c.pushManifest(name, "t", await pushImageParts(c, name));
      expect(await (await c.req("GET", "/v2/_catalog")).json()).toEqual({ repositories: ["a", "b/x/z", "b/y"] });
      const page = await c.req("GET", "/v2/_catalog?n=1&last=a");
      expect(await page.json()).toEqual({ repositories: ["b/x/z"] });
      expect(page.headers.get("link")).toBe('</v2/_catalog?n=1&last=b%2Fx%2Fz>; rel="next"');
    });
  });
}
