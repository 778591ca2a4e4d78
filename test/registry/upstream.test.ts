/**
 * `2dfs serve --upstream` in-process against a real origin socket: pull-through of tags,
 * digests, partitions and blobs, verification, single flight, tag TTL and stale serving,
 * eviction and /metrics.
 */
import { afterEach, describe, expect, test } from "bun:test";
import { chmod, mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { blobDataPath } from "../../src/registry/storage/paths.ts";
import type { StorageDriver } from "../../src/registry/driver/driver.ts";
import { createMemoryDriver } from "../../src/registry/driver/memory.ts";
import { createTestClient, pushImageParts, sha256 } from "./helpers.ts";
import { grid, pushNative } from "./partition-fixtures.ts";
import { ACCEPT_ALL, createEdge, startOrigin } from "./upstream-support.ts";

const stops: (() => unknown)[] = [];
afterEach(async () => {
  for (const s of stops.splice(0)) await s();
});
const origin = (opts: Parameters<typeof startOrigin>[0] = {}) => {
  const o = startOrigin(opts);
  stops.push(o.stop);
  return o;
};
const bytesOf = async (res: Response) => new Uint8Array(await res.arrayBuffer());
const seeded = (n: number, seed: number) => {
  const out = new Uint8Array(n);
  let x = seed;
  for (let i = 0; i < n; i++) out[i] = (x = (x * 1103515245 + 12345) >>> 0) >>> 24;
  return out;
};

describe("serve --upstream (pull-through edge)", () => {
  test("a partition is computed at the edge from the upstream's plain tag; each needed piece crosses once", async () => {
    const o = origin();
    await pushNative(o.client, "m/field", "v1", grid(2, 2));
    const edge = createEdge(o.url);
    const res = await edge.req("GET", "/v2/m/field/manifests/v1--0.0.0.1", ACCEPT_ALL);
    expect(res.status).toBe(200);
    const manifest = JSON.parse(await res.text());
    expect(manifest.layers).toHaveLength(3); // the base layer and allotments (0,0), (0,1)
    // No partition request went upstream: only the tag, its manifest and its config.
    expect(o.requests.filter((r) => r.includes("--"))).toEqual([]);
    expect(o.count("HEAD", "/manifests/v1")).toBe(1);
    for (const layer of manifest.layers) {
      const got = await edge.req("GET", `/v2/m/field/blobs/${layer.digest}`);
      expect(got.status).toBe(200);
      expect(sha256(await bytesOf(got))).toBe(layer.digest);
    }
    // The partition's config was generated here; the allotments (1,0), (1,1) were never fetched.
    const before = [...o.requests];
    expect(before.filter((r) => r.startsWith("GET") && r.includes("/blobs/"))).toHaveLength(1 + 3);
    // A second round (another overlapping partition, same blobs) asks upstream nothing within the TTL.
    const again = await edge.req("GET", "/v2/m/field/manifests/v1--0.0.0.0", ACCEPT_ALL);
    expect(again.status).toBe(200);
    for (const layer of JSON.parse(await again.text()).layers) {
      expect((await edge.req("GET", `/v2/m/field/blobs/${layer.digest}`)).status).toBe(200);
    }
    expect(o.requests).toEqual(before);
    const metrics = await (await edge.req("GET", "/metrics")).text();
    expect(metrics).toContain('tdfs_cache_misses_total{tier="edge",kind="blob"} 4');
    expect(metrics).toMatch(/tdfs_cache_hits_total\{tier="edge",kind="blob"\} [1-9]/);
    expect(metrics).toMatch(/tdfs_upstream_bytes_total\{tier="edge"\} [1-9]/);
  });

  test("20 concurrent GETs of a cold blob share one upstream fetch, and the body streams before the origin has sent it all", async () => {
    const o = origin();
    const big = seeded(3 << 20, 7);
    const digest = await o.client.pushBlob("m/big", big);
    let release!: () => void;
    const released = new Promise<void>((r) => (release = r));
    // The origin sends the first MiB, then stalls until the test has seen bytes through the edge.
    o.hooks.set(`/v2/m/big/blobs/${digest}`, (res) => {
      const reader = res.body!.getReader();
      let sent = 0;
      return new Response(
        new ReadableStream({
          async pull(c) {
            if (sent >= 1 << 20) await released;
            const { done, value } = await reader.read();
            if (done) return c.close();
            sent += value.byteLength;
            c.enqueue(value);
          },
        }),
        { headers: res.headers },
      );
    });
    const edge = createEdge(o.url);
    const first = await edge.req("GET", `/v2/m/big/blobs/${digest}`);
    expect(first.status).toBe(200);
    const reader = first.body!.getReader();
    const firstChunk = await reader.read();
    expect(firstChunk.value!.byteLength).toBeGreaterThan(0);
    const others = Array.from({ length: 19 }, () => edge.req("GET", `/v2/m/big/blobs/${digest}`).then(bytesOf));
    release();
    const rest: Uint8Array[] = [firstChunk.value!];
    for (let r = await reader.read(); !r.done; r = await reader.read()) rest.push(r.value);
    expect(sha256(Buffer.concat(rest))).toBe(digest);
    for (const body of await Promise.all(others)) expect(sha256(body)).toBe(digest);
    expect(o.count("GET", `/blobs/${digest}`)).toBe(1);
  });

  test("on a store whose appends are costly (appendBatchBytes, as S3's) a fetched blob is appended in batches; elsewhere piece by piece", async () => {
    const o = origin();
    const big = seeded(5 << 20, 9);
    const digest = await o.client.pushBlob("m/batched", big);
    // The origin sends the body in 64 KiB pieces.
    o.hooks.set(`/v2/m/batched/blobs/${digest}`, (res) => {
      const reader = res.body!.getReader();
      let left = new Uint8Array(0);
      return new Response(
        new ReadableStream({
          async pull(c) {
            if (left.byteLength === 0) {
              const { done, value } = await reader.read();
              if (done) return c.close();
              left = value;
            }
            c.enqueue(left.subarray(0, 64 << 10));
            left = left.subarray(64 << 10);
          },
        }),
        { headers: res.headers },
      );
    });
    const appendsWith = async (appendBatchBytes: number | undefined) => {
      const memory = createMemoryDriver();
      let appends = 0;
      const driver: StorageDriver = {
        ...memory,
        appendBatchBytes,
        append(path, data) {
          if (path.startsWith("_upstream/tmp/")) appends++;
          return memory.append(path, data);
        },
      };
      const edge = createTestClient({ driver, upstream: { targets: [{ prefix: "", url: o.url }] } });
      const res = await edge.req("GET", `/v2/m/batched/blobs/${digest}`);
      expect(res.status).toBe(200);
      expect(sha256(await bytesOf(res))).toBe(digest);
      return appends;
    };
    // 5 MiB in appends of at least 1 MiB each; unbatched, the pieces as they arrived (Bun merges some).
    expect(await appendsWith(1 << 20)).toBeLessThanOrEqual(5);
    expect(await appendsWith(undefined)).toBeGreaterThan(5);
  });

  test("a blob that fails verification breaks the client's transfer and nothing is kept", async () => {
    const o = origin();
    const data = seeded(1 << 20, 3);
    const digest = await o.client.pushBlob("m/bad", data);
    o.corrupt.add(digest);
    const edge = createEdge(o.url);
    const res = await edge.req("GET", `/v2/m/bad/blobs/${digest}`);
    let received = 0;
    let failed: unknown;
    try {
      for await (const chunk of res.body!) received += chunk.byteLength;
    } catch (e) {
      failed = e;
    }
    expect(String(failed)).toContain("failed verification");
    expect(received).toBeLessThan(data.byteLength);
    expect(await edge.driver.stat(blobDataPath(digest))).toBeUndefined();
    expect(await edge.driver.list("_upstream/tmp")).toEqual([]);
    expect(edge.lines.join("\n")).toContain(`upstream blob ${digest} failed verification`);
    // Not cached: the next request asks upstream again (and fails again, as an error now that a joiner can see it).
    const again = await edge.req("GET", `/v2/m/bad/blobs/${digest}`);
    await again.arrayBuffer().catch(() => {});
    expect(o.count("GET", `/blobs/${digest}`)).toBe(2);
  });

  test("tags are revalidated with a HEAD after the TTL; while upstream is down the cached tag is served stale and logged", async () => {
    const o = origin();
    const v1 = await pushNative(o.client, "m/t", "v1", grid(1, 2));
    const edge = createEdge(o.url, { tagTtlSeconds: 0 });
    const get = () => edge.req("GET", "/v2/m/t/manifests/v1", ACCEPT_ALL);
    expect((await get()).headers.get("docker-content-digest")).toBe(v1.digest);
    expect((await get()).headers.get("docker-content-digest")).toBe(v1.digest);
    expect(o.count("HEAD", "/manifests/v1")).toBe(2);
    expect(o.count("GET", `/manifests/${v1.digest}`)).toBe(1);
    const v2 = await pushNative(o.client, "m/t", "v1", grid(2, 2));
    expect((await get()).headers.get("docker-content-digest")).toBe(v2.digest);
    o.stop();
    const stale = await get();
    expect(stale.status).toBe(200);
    expect(stale.headers.get("docker-content-digest")).toBe(v2.digest);
    expect(edge.lines.join("\n")).toMatch(/serving cached tag m\/t:v1 \(stale\): upstream http:\/\/127\.0\.0\.1:\d+ unreachable/);
    // A partition of the cached tag is still computed; a tag never cached is a gateway error naming the upstream.
    expect((await edge.req("GET", "/v2/m/t/manifests/v1--1.1.1.1", ACCEPT_ALL)).status).toBe(200);
    const missing = await edge.req("GET", "/v2/m/t/manifests/v9", ACCEPT_ALL);
    expect(missing.status).toBe(502);
    expect(await missing.text()).toContain("unreachable");
    expect(await (await edge.req("GET", "/metrics")).text()).toContain('tdfs_stale_tags_served_total{tier="edge"} 2');
  });

  test("--cache-max evicts least-recently-used upstream blobs, never a blob pushed to the edge", async () => {
    const o = origin();
    const blobs = [1, 2, 3].map((s) => seeded(100_000, s));
    const digests = await Promise.all(blobs.map((b) => o.client.pushBlob("m/lru", b)));
    const edge = createEdge(o.url, { cacheMaxBytes: 250_000 });
    // Pushed to the edge itself, then also fetched through it in another repository.
    const pushed = seeded(100_000, 9);
    const pushedDigest = sha256(pushed);
    const put = await edge.app.handle(new Request(`http://localhost/v2/local/mine/blobs/uploads/?digest=${pushedDigest}`, { method: "POST", body: pushed }));
    expect(put.status).toBe(201);
    await o.client.pushBlob("m/lru", pushed);
    const get = async (d: string) => expect<string>(sha256(await bytesOf(await edge.req("GET", `/v2/m/lru/blobs/${d}`)))).toBe(d);
    await get(digests[0]!);
    await get(pushedDigest);
    await get(digests[1]!);
    await get(digests[0]!); // used again: digests[1] is now the oldest upstream-only blob
    await get(digests[2]!); // 400 KB of upstream records > 250 KB: evict until under the cap
    expect(await edge.driver.stat(blobDataPath(pushedDigest))).toBeDefined();
    expect(await edge.driver.stat(blobDataPath(digests[1]!))).toBeUndefined();
    expect(await edge.driver.stat(blobDataPath(digests[2]!))).toBeDefined();
    expect(edge.lines.join("\n")).toContain(`evicted ${digests[1]}`);
    // The evicted blob comes back from upstream on its next request.
    await get(digests[1]!);
    expect(o.count("GET", `/blobs/${digests[1]}`)).toBe(2);
  });

  test("an upstream with basic auth is reached with --upstream-user and TDFS_UPSTREAM_PASSWORD", async () => {
    const hash = await Bun.password.hash("s3cret", { algorithm: "bcrypt", cost: 4 });
    const o = origin({ htpasswd: `edge:${hash}\n` });
    const data = seeded(1000, 5);
    const auth = { Authorization: `Basic ${btoa("edge:s3cret")}` };
    const digest = sha256(data);
    const up = await o.client.app.handle(new Request(`http://localhost/v2/m/auth/blobs/uploads/?digest=${digest}`, { method: "POST", body: data, headers: auth }));
    expect(up.status).toBe(201);
    const saved = process.env.TDFS_UPSTREAM_PASSWORD;
    process.env.TDFS_UPSTREAM_PASSWORD = "s3cret";
    try {
      const edge = createEdge(o.url, { user: "edge" });
      expect(sha256(await bytesOf(await edge.req("GET", `/v2/m/auth/blobs/${digest}`)))).toBe(digest);
      const anonymous = createEdge(o.url, { user: "nobody" });
      expect((await anonymous.req("GET", `/v2/m/auth/blobs/${digest}`)).status).toBe(502);
    } finally {
      if (saved === undefined) delete process.env.TDFS_UPSTREAM_PASSWORD;
      else process.env.TDFS_UPSTREAM_PASSWORD = saved;
    }
  });

  test("an upstream with basic auth is reached with the password a Docker credential helper holds; a missing helper is logged", async () => {
    const hash = await Bun.password.hash("k3ychain", { algorithm: "bcrypt", cost: 4 });
    const o = origin({ htpasswd: `edge:${hash}\n` });
    const data = seeded(1000, 6);
    const digest = sha256(data);
    const up = await o.client.app.handle(
      new Request(`http://localhost/v2/m/helper/blobs/uploads/?digest=${digest}`, { method: "POST", body: data, headers: { Authorization: `Basic ${btoa("edge:k3ychain")}` } }),
    );
    expect(up.status).toBe(201);
    const dir = await mkdtemp(join(tmpdir(), "2dfs-edge-helper-"));
    stops.push(() => rm(dir, { recursive: true, force: true }));
    const host = new URL(o.url).host;
    await writeFile(join(dir, "docker-credential-vault"), `#!/bin/sh\n[ "$1" = get ] && [ "$(cat)" = "${host}" ] && printf '{"ServerURL":"${host}","Username":"edge","Secret":"k3ychain"}' && exit 0\necho "credentials not found in native keychain"; exit 1\n`);
    await chmod(join(dir, "docker-credential-vault"), 0o755);
    const saved = { PATH: process.env.PATH, DOCKER_CONFIG: process.env.DOCKER_CONFIG };
    process.env.PATH = `${dir}:${saved.PATH}`;
    process.env.DOCKER_CONFIG = dir;
    try {
      await writeFile(join(dir, "config.json"), JSON.stringify({ credHelpers: { [host]: "vault" } }));
      const edge = createEdge(o.url);
      expect(sha256(await bytesOf(await edge.req("GET", `/v2/m/helper/blobs/${digest}`)))).toBe(digest);
      await writeFile(join(dir, "config.json"), JSON.stringify({ credsStore: "gone" }));
      const unhelped = createEdge(o.url);
      expect((await unhelped.req("GET", `/v2/m/helper/blobs/${digest}`)).status).toBe(502);
      expect(unhelped.lines.join("\n")).toContain("no credentials: Docker's config.json names the credential helper \"gone\", but docker-credential-gone is not on PATH");
    } finally {
      process.env.PATH = saved.PATH;
      if (saved.DOCKER_CONFIG === undefined) delete process.env.DOCKER_CONFIG;
      else process.env.DOCKER_CONFIG = saved.DOCKER_CONFIG;
    }
  });

  test("a tag pushed to the edge is its own; a tag deleted upstream is removed here; a HEAD of a missing blob fetches nothing", async () => {
    const o = origin();
    const up = await pushNative(o.client, "m/own", "v1", grid(1, 1));
    await pushNative(o.client, "m/own", "gone", grid(1, 1));
    const edge = createEdge(o.url, { tagTtlSeconds: 0 });
    // Pushed to the edge itself under a tag the upstream also has: never revalidated or replaced.
    const local = await pushNative(edge.client, "m/own", "v1", grid(1, 2));
    const got = await edge.req("GET", "/v2/m/own/manifests/v1", ACCEPT_ALL);
    expect(got.headers.get("docker-content-digest")).toBe(local.digest);
    expect(local.digest).not.toBe(up.digest);
    expect(o.count("HEAD", "/manifests/v1")).toBe(0);
    // Cached from upstream, then deleted there: the next revalidation removes it here.
    expect((await edge.req("GET", "/v2/m/own/manifests/gone", ACCEPT_ALL)).status).toBe(200);
    expect((await o.client.req("DELETE", "/v2/m/own/manifests/gone")).status).toBe(202);
    expect((await edge.req("GET", "/v2/m/own/manifests/gone", ACCEPT_ALL)).status).toBe(404);
    expect(edge.lines.join("\n")).toContain("tag m/own:gone is gone upstream; removed here");
    // HEAD of a blob not here: upstream's size, and no GET upstream.
    const data = seeded(5000, 11);
    const digest = await o.client.pushBlob("m/own", data);
    const head = await edge.req("HEAD", `/v2/m/own/blobs/${digest}`);
    expect({ status: head.status, length: head.headers.get("content-length") }).toEqual({ status: 200, length: "5000" });
    expect(o.count("GET", `/blobs/${digest}`)).toBe(0);
    expect(await edge.driver.stat(blobDataPath(digest))).toBeUndefined();
  });

  test("referrers: the edge lists upstream's (signatures it never fetched) with its own, filters them, and serves the last listing while upstream is down", async () => {
    const o = origin();
    const subject = await o.client.pushManifest("s/img", "v1", await pushImageParts(o.client, "s/img"));
    const empty = await o.client.pushBlob("s/img", "{}");
    const artifact = (artifactType: string, note: string) => ({
      schemaVersion: 2,
      mediaType: "application/vnd.oci.image.manifest.v1+json",
      artifactType,
      config: { mediaType: "application/vnd.oci.empty.v1+json", digest: empty, size: 2 },
      layers: [{ mediaType: "application/vnd.oci.empty.v1+json", digest: empty, size: 2 }],
      subject: { mediaType: "application/vnd.oci.image.manifest.v1+json", digest: subject.digest, size: subject.bytes.byteLength },
      annotations: { note },
    });
    const sig = await o.client.pushManifest("s/img", "sig", artifact("application/vnd.dev.cosign.signature", "upstream"));
    const sbom = await o.client.pushManifest("s/img", "sbom", artifact("application/spdx+json", "upstream"));
    const edge = createEdge(o.url, { tagTtlSeconds: 0 });
    const list = async (query = "") => {
      const res = await edge.req("GET", `/v2/s/img/referrers/${subject.digest}${query}`);
      expect(res.status).toBe(200);
      return ((await res.json()) as { manifests: { digest: string; annotations?: Record<string, string> }[] }).manifests.map((m) => m.digest).sort();
    };
    // Never fetched through the edge, still listed; and then fetchable by digest through it.
    expect(await list()).toEqual([sig.digest, sbom.digest].sort());
    expect(await list(`?artifactType=${encodeURIComponent("application/spdx+json")}`)).toEqual([sbom.digest]);
    expect((await edge.req("GET", `/v2/s/img/manifests/${sig.digest}`, ACCEPT_ALL)).status).toBe(200);
    // One pushed to the edge itself joins them; the signature now local too is listed once.
    await edge.client.pushBlob("s/img", "{}");
    const own = await edge.client.pushManifest("s/img", "att", artifact("application/vnd.in-toto+json", "edge"));
    expect(await list()).toEqual([sig.digest, sbom.digest, own.digest].sort());
    // Upstream down: the last listing (TTL 0, so it was fetched each time) still answers.
    o.stop();
    expect(await list()).toEqual([sig.digest, sbom.digest, own.digest].sort());
    expect(edge.lines.join("\n")).toContain(`upstream: referrers of ${subject.digest} in s/img:`);
    // A subject upstream does not know: an empty index, as any registry answers.
    expect(await (await edge.req("GET", `/v2/s/img/referrers/${sha256("other")}`)).json()).toMatchObject({ manifests: [] });
  });

  test("an upstream with the bearer token flow is reached with the basic credentials traded for a token", async () => {
    const o = origin({ bearerFor: { user: "edge", password: "pw" } });
    const data = seeded(2000, 12);
    const digest = sha256(data);
    const up = await o.client.pushBlob("m/tok", data);
    expect(up).toBe(digest);
    const saved = process.env.TDFS_UPSTREAM_PASSWORD;
    process.env.TDFS_UPSTREAM_PASSWORD = "pw";
    try {
      const edge = createEdge(o.url, { user: "edge" });
      expect(sha256(await bytesOf(await edge.req("GET", `/v2/m/tok/blobs/${digest}`)))).toBe(digest);
      expect(o.count("GET", "/token")).toBe(1);
      process.env.TDFS_UPSTREAM_PASSWORD = "wrong";
      const denied = await createEdge(o.url, { user: "edge" }).req("GET", `/v2/m/tok/blobs/${digest}`);
      expect(denied.status).toBe(502);
      expect(await denied.text()).toContain("answered 401");
    } finally {
      if (saved === undefined) delete process.env.TDFS_UPSTREAM_PASSWORD;
      else process.env.TDFS_UPSTREAM_PASSWORD = saved;
    }
  });
});
