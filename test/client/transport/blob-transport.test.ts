import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { mkdtemp, readFile, rm, stat } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { downloadBlobToStore } from "../../../src/client/transport/blob-download.ts";
import { partialPaths } from "../../../src/client/transport/partial-downloads.ts";
import { uploadBlob } from "../../../src/client/transport/blob-upload.ts";
import { DigestMismatchError } from "../../../src/client/errors.ts";
import { createRegistryClient } from "../../../src/client/transport/registry-client.ts";
import { socketGet, socketTarget } from "../../../src/client/transport/socket-http-get.ts";
import { createLayoutStore, type LayoutStore } from "../../../src/content/layout-store.ts";
import { rawServer } from "../../support/raw-tcp.ts";
import { seededBytes } from "../../support/temp.ts";
import { type RunningRegistry, startDistribution } from "../support/distribution.ts";
import { sha256 } from "../support/layers.ts";
import { countedResponse, startProxy, truncatedResponse } from "../support/proxy.ts";

// Blob downloads over 2dfs's own socket (the default for a plain-HTTP registry at an IPv4
// address) in front of a registry that challenges, redirects, fails, drops the connection or
// corrupts: anything but a success is asked again through fetch, and the bytes are checked
// either way.

const REPO = "transport/blobs";
let registry: RunningRegistry;
let work: string;
const blobs = [seededBytes(700_000, 31), seededBytes(300_000, 32)].map((bytes) => ({ bytes, digest: sha256(bytes), size: bytes.byteLength }));

beforeAll(async () => {
  registry = await startDistribution();
  work = await mkdtemp(join(tmpdir(), "2dfs-blob-transport-"));
  const direct = await createRegistryClient({ registry: registry.host, credentials: null, blobTransport: "fetch" });
  for (const b of blobs) await uploadBlob(direct, REPO, b, new Blob([b.bytes]));
});

afterAll(async () => {
  await registry.stop();
  await rm(work, { recursive: true, force: true });
});

/** fetch always sends a User-Agent; 2dfs's own socket sends only Host, Connection, Range and Authorization. */
const transportOf = (req: Request): "socket" | "fetch" => (req.headers.has("user-agent") ? "fetch" : "socket");

/** A blob GET as the proxy saw it, and what it answered. */
interface Seen {
  path: string;
  via: "socket" | "fetch";
  auth: boolean;
  status: number;
}

const blobPath = (digest: string) => `/v2/${REPO}/blobs/${digest}`;

/** Each blob is in the store, and its file holds exactly its bytes. */
async function expectStored(store: LayoutStore, stored: readonly (typeof blobs)[number][]): Promise<void> {
  for (const b of stored) {
    expect(await store.hasBlob(b.digest)).toBe(true);
    expect(new Uint8Array(await readFile(store.blobPath(b.digest)))).toEqual(b.bytes);
  }
}

/**
 * A raw HTTP server for one blob: the first GET announces the whole blob with Content-Length,
 * sends `cut` bytes and closes the connection; later GETs honour `Range: bytes=N-` (206).
 */
function rawBlobServer(bytes: Uint8Array, cut: number): { host: string; requests: { via: string; range: string | null }[]; stop(): void } {
  const requests: { via: string; range: string | null }[] = [];
  const server = rawServer({
    async request(conn, head) {
      const field = (name: string) => new RegExp(`^${name}: *(.*)$`, "im").exec(head)?.[1]?.trim() ?? null;
      const range = field("range");
      requests.push({ via: field("user-agent") === null ? "socket" : "fetch", range });
      const from = Number(/^bytes=(\d+)-$/.exec(range ?? "")?.[1] ?? 0);
      const first = requests.length === 1;
      const answer = first
        ? `HTTP/1.1 200 OK\r\nContent-Length: ${bytes.length}\r\nConnection: close\r\n\r\n`
        : from > 0
          ? `HTTP/1.1 206 Partial Content\r\nContent-Range: bytes ${from}-${bytes.length - 1}/${bytes.length}\r\nContent-Length: ${bytes.length - from}\r\nConnection: close\r\n\r\n`
          : `HTTP/1.1 200 OK\r\nContent-Length: ${bytes.length}\r\nConnection: close\r\n\r\n`;
      await conn.write(answer);
      await conn.write(first ? bytes.subarray(0, cut) : bytes.subarray(from));
      await Bun.sleep(first ? 20 : 0);
      conn.end();
    },
  });
  return { host: server.host, requests, stop: server.stop };
}

describe("choosing the blob transport", () => {
  test("socket by default for plain HTTP to an IPv4 address or localhost; fetch when asked, by option or TDFS_BLOB_TRANSPORT", async () => {
    const saved = process.env.TDFS_BLOB_TRANSPORT;
    delete process.env.TDFS_BLOB_TRANSPORT;
    try {
      const target = async (opts: { registry: string; blobTransport?: "socket" | "fetch"; insecure?: boolean }) =>
        (await createRegistryClient({ ...opts, credentials: null })).socketTarget;
      expect(await target({ registry: "127.0.0.1:5000" })).toEqual({ ip: "127.0.0.1", port: 5000, host: "127.0.0.1:5000" });
      expect(await target({ registry: "localhost:5000" })).toEqual({ ip: "127.0.0.1", port: 5000, host: "localhost:5000" });
      expect(await target({ registry: "127.0.0.1:5000", blobTransport: "socket" })).toBeDefined();
      expect(await target({ registry: "127.0.0.1:5000", blobTransport: "fetch" })).toBeUndefined();
      // https, or a host name: fetch.
      expect(await target({ registry: "registry.example:5000" })).toBeUndefined();
      expect(await target({ registry: "registry.example:5000", insecure: true })).toBeUndefined();
      process.env.TDFS_BLOB_TRANSPORT = "fetch";
      expect(await target({ registry: "127.0.0.1:5000" })).toBeUndefined();
      // The option wins over the environment.
      expect(await target({ registry: "127.0.0.1:5000", blobTransport: "socket" })).toBeDefined();
    } finally {
      if (saved === undefined) delete process.env.TDFS_BLOB_TRANSPORT;
      else process.env.TDFS_BLOB_TRANSPORT = saved;
    }
  });
});

describe("an HTTP proxy in the environment", () => {
  test("sends blobs of a non-loopback registry through fetch (which honours it); loopback keeps the socket", async () => {
    const saved = { HTTP_PROXY: process.env.HTTP_PROXY, http_proxy: process.env.http_proxy };
    process.env.HTTP_PROXY = "http://127.0.0.1:3128";
    try {
      // No request is made: the choice is taken when the client is created.
      const lan = await createRegistryClient({ registry: "10.1.2.3:5000", insecure: true, credentials: null });
      expect(lan.socketTarget).toBeUndefined();
      const loopback = await createRegistryClient({ registry: registry.host, credentials: null });
      expect(loopback.socketTarget).toBeDefined();
      delete process.env.HTTP_PROXY;
      const direct = await createRegistryClient({ registry: "10.1.2.3:5000", insecure: true, credentials: null });
      expect(direct.socketTarget).toEqual({ ip: "10.1.2.3", port: 5000, host: "10.1.2.3:5000" });
    } finally {
      for (const [name, value] of Object.entries(saved)) {
        if (value === undefined) delete process.env[name];
        else process.env[name] = value;
      }
    }
  });
});

describe("blob downloads over the socket transport, and its fallbacks to fetch", () => {
  test("a registry asking for basic auth: the first blob goes through fetch's challenge, later ones over the socket with the credentials", async () => {
    const credentials = { username: "u", password: "p:w" };
    const expected = `Basic ${Buffer.from("u:p:w").toString("base64")}`;
    const seen: Seen[] = [];
    const proxy = startProxy(registry.host, async (req, url, forward) => {
      const auth = req.headers.get("authorization") === expected;
      const res = auth ? await forward(req) : new Response("{}", { status: 401, headers: { "www-authenticate": 'Basic realm="x"' } });
      if (url.pathname.includes("/blobs/")) seen.push({ path: url.pathname, via: transportOf(req), auth, status: res.status });
      return res;
    });
    try {
      const store = await createLayoutStore(join(work, "store-basic"));
      const client = await createRegistryClient({ registry: proxy.host, credentials, blobTransport: "socket" });
      expect(client.socketTarget).toBeDefined();
      const [first, second] = blobs as [(typeof blobs)[0], (typeof blobs)[0]];

      expect(await downloadBlobToStore(client, REPO, first, store)).toBe("downloaded");
      expect(seen).toEqual([
        { path: blobPath(first.digest), via: "socket", auth: false, status: 401 },
        { path: blobPath(first.digest), via: "fetch", auth: false, status: 401 },
        { path: blobPath(first.digest), via: "fetch", auth: true, status: 200 },
      ]);
      // A challenge does not turn the socket off: the credentials now go with every blob GET.
      expect(client.socketTarget).toBeDefined();
      seen.length = 0;
      expect(await downloadBlobToStore(client, REPO, second, store)).toBe("downloaded");
      expect(seen).toEqual([{ path: blobPath(second.digest), via: "socket", auth: true, status: 200 }]);

      await expectStored(store, [first, second]);
    } finally {
      proxy.stop();
    }
  });

  test("a blob GET redirected (307): the download follows it through fetch, and the client's later blobs skip the socket", async () => {
    const seen: Seen[] = [];
    const proxy = startProxy(registry.host, async (req, url, forward) => {
      if (req.method !== "GET") return forward(req);
      const blob = /^\/v2\/transport\/blobs\/blobs\/(sha256:[0-9a-f]{64})$/.exec(url.pathname);
      const moved = /^\/storage\/(sha256:[0-9a-f]{64})$/.exec(url.pathname);
      let res: Response;
      if (blob) res = new Response(null, { status: 307, headers: { location: `/storage/${blob[1]}` } });
      else if (moved) res = await forward(new Request(new URL(blobPath(moved[1]!), url).href, { headers: req.headers }));
      else return forward(req);
      seen.push({ path: url.pathname, via: transportOf(req), auth: false, status: res.status });
      return res;
    });
    try {
      const store = await createLayoutStore(join(work, "store-redirect"));
      const client = await createRegistryClient({ registry: proxy.host, credentials: null, blobTransport: "socket" });
      const [first, second] = blobs as [(typeof blobs)[0], (typeof blobs)[0]];

      expect(await downloadBlobToStore(client, REPO, first, store)).toBe("downloaded");
      expect(seen).toEqual([
        { path: blobPath(first.digest), via: "socket", auth: false, status: 307 },
        { path: blobPath(first.digest), via: "fetch", auth: false, status: 307 },
        { path: `/storage/${first.digest}`, via: "fetch", auth: false, status: 200 },
      ]);
      expect(client.socketTarget).toBeUndefined();

      seen.length = 0;
      expect(await downloadBlobToStore(client, REPO, second, store)).toBe("downloaded");
      expect(seen).toEqual([
        { path: blobPath(second.digest), via: "fetch", auth: false, status: 307 },
        { path: `/storage/${second.digest}`, via: "fetch", auth: false, status: 200 },
      ]);

      await expectStored(store, [first, second]);
    } finally {
      proxy.stop();
    }
  });

  test("a server error on the socket is asked again through fetch, and the next blob still uses the socket", async () => {
    const seen: Seen[] = [];
    let failed = false;
    const proxy = startProxy(registry.host, async (req, url, forward) => {
      if (!url.pathname.includes("/blobs/")) return forward(req);
      const res = failed ? await forward(req) : new Response("busy", { status: 503 });
      failed = true;
      seen.push({ path: url.pathname, via: transportOf(req), auth: false, status: res.status });
      return res;
    });
    try {
      const store = await createLayoutStore(join(work, "store-503"));
      const client = await createRegistryClient({ registry: proxy.host, credentials: null, blobTransport: "socket" });
      const [first, second] = blobs as [(typeof blobs)[0], (typeof blobs)[0]];
      expect(await downloadBlobToStore(client, REPO, first, store)).toBe("downloaded");
      expect(await downloadBlobToStore(client, REPO, second, store)).toBe("downloaded");
      expect(seen).toEqual([
        { path: blobPath(first.digest), via: "socket", auth: false, status: 503 },
        { path: blobPath(first.digest), via: "fetch", auth: false, status: 200 },
        { path: blobPath(second.digest), via: "socket", auth: false, status: 200 },
      ]);
      await expectStored(store, [first, second]);
    } finally {
      proxy.stop();
    }
  });

  test("a body that ends short on the socket is continued in the same download with a Range request, over the socket, hashed across both", async () => {
    const blob = blobs[0]!;
    const cut = 250_000;
    const seen: { range: string | null; via: string; status: number }[] = [];
    let served = 0;
    const proxy = startProxy(registry.host, async (req, url, forward) => {
      if (req.method !== "GET" || url.pathname !== blobPath(blob.digest)) return forward(req);
      const first = seen.length === 0;
      const res = first ? truncatedResponse(blob.bytes, cut, { "content-type": "application/octet-stream" }) : await forward(req);
      seen.push({ range: req.headers.get("range"), via: transportOf(req), status: res.status });
      return first ? res : countedResponse(res, (n) => (served += n));
    });
    try {
      const store = await createLayoutStore(join(work, "store-cut"));
      const client = await createRegistryClient({ registry: proxy.host, credentials: null, blobTransport: "socket", retry: { retries: 1, baseDelayMs: 5 } });
      expect(await downloadBlobToStore(client, REPO, blob, store)).toBe("downloaded");
      expect(seen).toEqual([
        { range: null, via: "socket", status: 200 },
        { range: `bytes=${cut}-`, via: "socket", status: 206 },
      ]);
      expect(served).toBe(blob.size - cut);
      expect(new Uint8Array(await readFile(store.blobPath(blob.digest)))).toEqual(blob.bytes);
      expect(partialPaths(store, blob.digest)).toEqual([]);
    } finally {
      proxy.stop();
    }
  });

  // Bun.serve re-frames a stream body as chunked and ends it cleanly (truncatedResponse's cut
  // arrives as a complete, short body), so a connection really dropped mid-body needs a raw server.
  for (const transport of ["socket", "fetch"] as const) {
    test(`over ${transport}: a connection dropped mid-body (Content-Length announced) is continued in the same download`, async () => {
      const blob = blobs[0]!;
      const cut = 250_000;
      const server = rawBlobServer(blob.bytes, cut);
      try {
        const store = await createLayoutStore(join(work, `store-dropped-${transport}`));
        const client = await createRegistryClient({ registry: server.host, credentials: null, blobTransport: transport, retry: { retries: 1, baseDelayMs: 5 } });
        expect(await downloadBlobToStore(client, REPO, blob, store)).toBe("downloaded");
        // What arrived before the drop was kept: the retry asks only for the rest.
        expect(server.requests).toEqual([
          { via: transport, range: null },
          { via: transport, range: `bytes=${cut}-` },
        ]);
        expect(new Uint8Array(await readFile(store.blobPath(blob.digest)))).toEqual(blob.bytes);
        expect(partialPaths(store, blob.digest)).toEqual([]);
      } finally {
        server.stop();
      }
    });
  }

  for (const transport of ["socket", "fetch"] as const) {
    test(`over ${transport}: an empty blob is downloaded and committed`, async () => {
      const empty = { bytes: new Uint8Array(0), digest: sha256(new Uint8Array(0)), size: 0 };
      const proxy = startProxy(registry.host, async (req, url, forward) => {
        if (req.method !== "GET" || url.pathname !== blobPath(empty.digest)) return forward(req);
        return new Response(empty.bytes, { headers: { "content-length": "0" } });
      });
      try {
        const store = await createLayoutStore(join(work, `store-empty-${transport}`));
        const client = await createRegistryClient({ registry: proxy.host, credentials: null, blobTransport: transport });
        expect(await downloadBlobToStore(client, REPO, empty, store)).toBe("downloaded");
        expect((await stat(store.blobPath(empty.digest))).size).toBe(0);
        expect(partialPaths(store, empty.digest)).toEqual([]);
      } finally {
        proxy.stop();
      }
    });
  }

  test("a corrupted body with Content-Length on the socket fails with a digest error and commits nothing", async () => {
    const blob = blobs[0]!;
    const corrupted = new Uint8Array(blob.bytes);
    corrupted[corrupted.length - 1]! ^= 0x01;
    const vias: string[] = [];
    const proxy = startProxy(registry.host, async (req, url, forward) => {
      if (req.method !== "GET" || url.pathname !== blobPath(blob.digest)) return forward(req);
      vias.push(transportOf(req));
      return new Response(corrupted, { headers: { "content-type": "application/octet-stream", "content-length": String(corrupted.length) } });
    });
    try {
      // What goes over the wire: a Content-Length body (no chunked framing).
      const probe = (await socketGet(socketTarget(`http://${proxy.host}`)!, blobPath(blob.digest), {}, 5_000))!;
      expect(probe.status).toBe(200);
      expect(probe.headers.get("content-length")).toBe(String(blob.size));
      expect(probe.headers.get("transfer-encoding")).toBeNull();
      probe.close();
      vias.length = 0;

      const store = await createLayoutStore(join(work, "store-corrupt"));
      const client = await createRegistryClient({ registry: proxy.host, credentials: null, blobTransport: "socket" });
      const error = await downloadBlobToStore(client, REPO, blob, store).catch((e) => e);
      expect(error).toBeInstanceOf(DigestMismatchError);
      expect(error.message).toContain(`hashes to ${sha256(corrupted)}`);
      expect(vias).toEqual(["socket"]);
      expect(await store.hasBlob(blob.digest)).toBe(false);
      expect(partialPaths(store, blob.digest)).toEqual([]);
      expect(await stat(store.blobPath(blob.digest)).catch(() => "gone")).toBe("gone");
    } finally {
      proxy.stop();
    }
  });
});
