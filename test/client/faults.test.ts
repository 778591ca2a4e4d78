import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { randomBytes } from "node:crypto";
import { mkdir, mkdtemp, readFile, readdir, rm, stat, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { downloadBlobToStore } from "../../src/client/transport/blob-download.ts";
import { partialPaths } from "../../src/client/transport/partial-downloads.ts";
import { uploadBlob } from "../../src/client/transport/blob-upload.ts";
import { DigestMismatchError } from "../../src/client/errors.ts";
import { pullImage } from "../../src/client/pull-image.ts";
import { createRegistryClient, type RegistryClient } from "../../src/client/transport/registry-client.ts";
import { createLayoutStore } from "../../src/content/layout-store.ts";
import { type RunningRegistry, startDistribution } from "./support/distribution.ts";
import { type TestImage, buildFieldImage, pushTestImage } from "./support/images.ts";
import { sha256 } from "./support/layers.ts";
import { countedResponse, startProxy, truncatedResponse } from "./support/proxy.ts";

let registry: RunningRegistry;
let direct: RegistryClient;
let work: string;
let image: TestImage;
let big: TestImage["allotments"][number];

beforeAll(async () => {
  registry = await startDistribution();
  direct = await createRegistryClient({ registry: registry.host, credentials: null });
  work = await mkdtemp(join(tmpdir(), "2dfs-faults-"));
  // Incompressible content so the blob is large and cutting it halfway is meaningful.
  image = await buildFieldImage({ rows: 1, cols: 2, format: "native", gzip: false, extra: randomBytes(600_000).toString("base64") });
  big = image.allotments[0]!;
  await pushTestImage(direct, "faults/img", "v1", image);
});

afterAll(async () => {
  await registry.stop();
  await rm(work, { recursive: true, force: true });
});

const isBlobGet = (req: Request, url: URL, digest: string) => req.method === "GET" && url.pathname.endsWith(`/blobs/${digest}`);

/**
 * Which transport sent a request the proxy sees: fetch always sends a User-Agent, 2dfs's own
 * socket (socket-http-get.ts) sends only Host, Connection, Range and Authorization.
 */
const transportOf = (req: Request): "socket" | "fetch" => (req.headers.has("user-agent") ? "fetch" : "socket");

// Every download fault runs on both blob transports; each test checks at the proxy that its blob
// requests really came through the transport it names.
for (const transport of ["socket", "fetch"] as const) {
  describe(`faults injected between client and registry: blob downloads over ${transport}`, () => {
    test("a corrupted blob fails the pull with a digest error and leaves the folder unchanged", async () => {
      const vias: string[] = [];
      const proxy = startProxy(registry.host, async (req, url, forward) => {
        if (!isBlobGet(req, url, big.layer.digest)) return forward(req);
        vias.push(transportOf(req));
        const bytes = new Uint8Array(big.layer.bytes);
        bytes[bytes.length >> 1]! ^= 0xff;
        return new Response(bytes, { headers: { "content-type": "application/octet-stream" } });
      });
      try {
        const store = await createLayoutStore(join(work, `store-corrupt-${transport}`));
        const dir = join(work, `corrupt-out-${transport}`);
        await mkdir(dir);
        await writeFile(join(dir, "keep.txt"), "mine\n");
        const client = await createRegistryClient({ registry: proxy.host, credentials: null, blobTransport: transport });
        const error = await pullImage(`${proxy.host}/faults/img:v1--0.0.0.1`, { dir, store, client }).catch((e) => e);
        expect(error).toBeInstanceOf(DigestMismatchError);
        // The body came whole (Content-Length) over one request: it was received, then refused, not retried.
        expect(vias).toEqual([transport]);
        expect(await readdir(dir)).toEqual(["keep.txt"]);
        expect(await store.hasBlob(big.layer.digest)).toBe(false);
        expect(partialPaths(store, big.layer.digest)).toEqual([]);
        expect((await readdir(work)).filter((n) => n.startsWith(`.corrupt-out-${transport}`))).toEqual([]);
      } finally {
        proxy.stop();
      }
    });

    test("a pull cut halfway and run again transfers only the missing bytes", async () => {
      let cut = true;
      const ranges: (string | null)[] = [];
      const vias: string[] = [];
      let served = 0;
      const proxy = startProxy(registry.host, async (req, url, forward) => {
        if (!isBlobGet(req, url, big.layer.digest)) return forward(req);
        ranges.push(req.headers.get("range"));
        vias.push(transportOf(req));
        if (cut) return truncatedResponse(big.layer.bytes, big.layer.size >> 1, { "content-type": "application/octet-stream" });
        return countedResponse(await forward(req), (n) => (served += n));
      });
      try {
        const store = await createLayoutStore(join(work, `store-resume-${transport}`));
        const dir = join(work, `resume-out-${transport}`);
        const noRetry = await createRegistryClient({ registry: proxy.host, credentials: null, retry: { retries: 0 }, blobTransport: transport });
        await expect(pullImage(`${proxy.host}/faults/img:v1--0.0.0.0`, { dir, store, client: noRetry })).rejects.toThrow();
        expect(await stat(dir).catch(() => "missing")).toBe("missing");
        const kept = (await Promise.all(partialPaths(store, big.layer.digest).map((p) => stat(p))))[0]!.size;
        expect(partialPaths(store, big.layer.digest)).toHaveLength(1);
        expect(kept).toBeGreaterThan(0);
        expect(kept).toBeLessThan(big.layer.size);
        // Every byte the cut answer sent before closing was kept.
        expect(kept).toBe(big.layer.size >> 1);
        expect(ranges).toEqual([null]);

        cut = false;
        const client = await createRegistryClient({ registry: proxy.host, credentials: null, blobTransport: transport });
        await pullImage(`${proxy.host}/faults/img:v1--0.0.0.0`, { dir, store, client });
        expect(ranges.at(-1)).toBe(`bytes=${kept}-`);
        expect(served).toBe(big.layer.size - kept);
        // One request per run, both over the transport under test. Both answers reach the client
        // chunked: Bun.serve re-frames truncatedResponse's stream (ending it cleanly, so the first
        // run sees a short body) and the proxy drops the forwarded Content-Length.
        expect(ranges).toEqual([null, `bytes=${kept}-`]);
        expect(vias).toEqual([transport, transport]);
        const content = await readFile(join(dir, "data/r0c0.txt"), "utf8");
        expect(content).toBe(big.files["data/r0c0.txt"]!);
        expect(await store.hasBlob(big.layer.digest)).toBe(true);
      } finally {
        proxy.stop();
      }
    });

    test("live progress: a slow download reports its bytes while they arrive; without live, they come at the end", async () => {
      const bytes = big.layer.bytes;
      const pieces = 6;
      const vias: string[] = [];
      // The blob in pieces 60 ms apart, with its length announced, as a registry sends it.
      const proxy = startProxy(registry.host, async (req, url, forward) => {
        if (!isBlobGet(req, url, big.layer.digest)) return forward(req);
        vias.push(transportOf(req));
        let i = 0;
        const body = new ReadableStream<Uint8Array>({
          async pull(controller) {
            if (i === pieces) return controller.close();
            const size = Math.ceil(bytes.length / pieces);
            controller.enqueue(bytes.slice(i * size, (i + 1) * size));
            i++;
            await Bun.sleep(60);
          },
        });
        return new Response(body, { headers: { "content-type": "application/octet-stream", "content-length": String(bytes.length) } });
      });
      try {
        const client = await createRegistryClient({ registry: proxy.host, credentials: null, blobTransport: transport });
        for (const live of [true, false]) {
          const advances: number[] = [];
          let doneAt = -1;
          const observer = { live, start() {}, advance: (_: string, n: number) => void advances.push(n), done: () => void (doneAt = advances.length) };
          const store = await createLayoutStore(join(work, `store-progress-${transport}-${live}`));
          expect(await downloadBlobToStore(client, "faults/img", { digest: big.layer.digest, size: big.layer.size }, store, observer)).toBe("downloaded");
          expect(advances.reduce((a, b) => a + b, 0)).toBe(big.layer.size);
          expect(doneAt).toBe(advances.length);
          if (live) expect(advances.length).toBeGreaterThanOrEqual(3);
          else expect(advances.length).toBe(1);
          expect(await store.hasBlob(big.layer.digest)).toBe(true);
        }
        expect(vias).toEqual([transport, transport]);
      } finally {
        proxy.stop();
      }
    });

    test("a blob larger than its descriptor says is refused, announced or not, and nothing of it is kept", async () => {
      const oversized = new Uint8Array([...big.layer.bytes, ...new Uint8Array(4096)]);
      for (const announce of [true, false]) {
        const vias: string[] = [];
        const proxy = startProxy(registry.host, async (req, url, forward) => {
          if (!isBlobGet(req, url, big.layer.digest)) return forward(req);
          vias.push(transportOf(req));
          // Without Content-Length the body arrives chunked: the client must count as it goes.
          const body = announce
            ? oversized
            : new ReadableStream<Uint8Array>({
                start(controller) {
                  for (let at = 0; at < oversized.length; at += 64 * 1024) controller.enqueue(oversized.slice(at, at + 64 * 1024));
                  controller.close();
                },
              });
          return new Response(body, { headers: { "content-type": "application/octet-stream" } });
        });
        try {
          const client = await createRegistryClient({ registry: proxy.host, credentials: null, blobTransport: transport });
          const store = await createLayoutStore(join(work, `store-oversized-${transport}-${announce}`));
          const error = await downloadBlobToStore(client, "faults/img", { digest: big.layer.digest, size: big.layer.size }, store).catch((e) => e);
          expect(error).toBeInstanceOf(DigestMismatchError);
          expect(error.message).toMatch(announce ? /announces \d+ bytes, more than the expected/ : /sent more than the expected size/);
          expect(await store.hasBlob(big.layer.digest)).toBe(false);
          expect(partialPaths(store, big.layer.digest)).toEqual([]);
          expect(vias).toEqual([transport]);
        } finally {
          proxy.stop();
        }
      }
    });

    test("bearer token flow: the token is fetched for the repository's pull scope and used", async () => {
      const scopes: string[] = [];
      const blobVias: string[] = [];
      const proxy = startProxy(registry.host, async (req, url, forward) => {
        // Layers are downloaded to the store (the config is read through the client's fetch).
        if (image.allotments.some((a) => isBlobGet(req, url, a.layer.digest))) blobVias.push(transportOf(req));
        if (url.pathname === "/token") {
          scopes.push(...url.searchParams.getAll("scope"));
          return Response.json({ token: `t-${url.searchParams.getAll("scope").join(",")}`, expires_in: 300 });
        }
        const auth = req.headers.get("authorization") ?? "";
        if (!auth.startsWith("Bearer t-repository:faults/img:pull")) {
          return new Response("{}", {
            status: 401,
            headers: { "www-authenticate": `Bearer realm="http://${new URL(req.url).host}/token",service="test",scope="repository:faults/img:pull"` },
          });
        }
        return forward(req);
      });
      try {
        const store = await createLayoutStore(join(work, `store-bearer-${transport}`));
        const client = await createRegistryClient({ registry: proxy.host, credentials: null, blobTransport: transport });
        await pullImage(`${proxy.host}/faults/img:v1--0.1.0.1`, { dir: join(work, `bearer-out-${transport}`), store, client });
        expect(scopes).toEqual(["repository:faults/img:pull"]);
        expect(Object.keys(image.allotments[1]!.files).length).toBeGreaterThan(0);
        for (const [path, content] of Object.entries(image.allotments[1]!.files)) {
          expect(await readFile(join(work, `bearer-out-${transport}`, path), "utf8")).toBe(content);
        }
        // The manifest request got the token first, so the layer GET carried it over the transport under test.
        expect(blobVias).toEqual([transport]);
      } finally {
        proxy.stop();
      }
    });
  });
}

describe("faults injected between client and registry: uploads", () => {
  test("a chunked upload cut mid-chunk resumes from the registry's upload status, sending each byte once", async () => {
    let patches = 0;
    let forwardedBytes = 0;
    const proxy = startProxy(registry.host, async (req, url, forward) => {
      if (req.method !== "PATCH") return forward(req);
      patches++;
      // The second chunk never reaches the registry: the connection "drops" on the way.
      if (patches === 2) {
        await req.arrayBuffer();
        return new Response("bad gateway", { status: 502 });
      }
      forwardedBytes += Number(req.headers.get("content-length"));
      return forward(req);
    });
    try {
      const client = await createRegistryClient({ registry: proxy.host, credentials: null, retry: { baseDelayMs: 10 } });
      const bytes = new Uint8Array(randomBytes(300_000));
      const digest = sha256(bytes);
      const how = await uploadBlob(client, "faults/upload", { digest, size: bytes.byteLength }, new Blob([bytes]), { monolithicMax: 1000, chunkSize: 64 * 1024 });
      expect(how).toBe("uploaded");
      expect(forwardedBytes).toBe(bytes.byteLength);
      expect(patches).toBe(Math.ceil(bytes.byteLength / (64 * 1024)) + 1);
      expect(await direct.readBlob("faults/upload", digest, 1 << 20)).toEqual(bytes);
    } finally {
      proxy.stop();
    }
  });

  test("a chunked upload whose answer was lost still completes with the right content", async () => {
    let patches = 0;
    const proxy = startProxy(registry.host, async (req, url, forward) => {
      if (req.method !== "PATCH") return forward(req);
      const res = await forward(req);
      if (++patches === 3) return new Response("lost", { status: 502 });
      return res;
    });
    try {
      const client = await createRegistryClient({ registry: proxy.host, credentials: null, retry: { baseDelayMs: 10 } });
      const bytes = new Uint8Array(randomBytes(200_000));
      const digest = sha256(bytes);
      await uploadBlob(client, "faults/upload2", { digest, size: bytes.byteLength }, new Blob([bytes]), { monolithicMax: 1000, chunkSize: 64 * 1024 });
      expect(await direct.readBlob("faults/upload2", digest, 1 << 20)).toEqual(bytes);
    } finally {
      proxy.stop();
    }
  });
});
