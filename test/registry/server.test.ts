import { afterAll, expect, test } from "bun:test";
import { join } from "node:path";
import { parseListenAddress, startRegistry } from "../../src/registry/server.ts";
import { sha256 } from "./helpers.ts";
import { tempDirs } from "../support/temp.ts";

const temp = tempDirs();
afterAll(temp.cleanup);

test("parseListenAddress", () => {
  expect(parseListenAddress("127.0.0.1:5000")).toEqual({ hostname: "127.0.0.1", port: 5000 });
  expect(parseListenAddress(":0")).toEqual({ hostname: "127.0.0.1", port: 0 });
  expect(parseListenAddress("[::1]:80")).toEqual({ hostname: "::1", port: 80 });
  expect(() => parseListenAddress("localhost")).toThrow(/invalid address/);
});

test("over a socket: basic auth challenge, access log, sendfile GET without stray headers, Range, HEAD", async () => {
  const dir = await temp.make("2dfs-server-");
  // htpasswd -B writes $2y$; Bun writes $2b$ (the same algorithm).
  const hash = (await Bun.password.hash("s3cret", { algorithm: "bcrypt", cost: 4 })).replace(/^\$2b\$/, "$2y$");
  await Bun.write(join(dir, "htpasswd"), `# users\nalice:${hash}\n`);
  const lines: string[] = [];
  const server = await startRegistry({ addr: "127.0.0.1:0", dataDir: join(dir, "data"), htpasswdFile: join(dir, "htpasswd"), log: (l) => lines.push(l) });
  try {
    const anonymous = await fetch(`${server.url}/v2/`);
    expect(anonymous.status).toBe(401);
    expect(anonymous.headers.get("www-authenticate")).toBe('Basic realm="2dfs"');
    expect(((await anonymous.json()) as { errors: { code: string }[] }).errors[0]!.code).toBe("UNAUTHORIZED");
    const wrong = await fetch(`${server.url}/v2/`, { headers: { Authorization: `Basic ${btoa("alice:nope")}` } });
    expect(wrong.status).toBe(401);
    const auth = { Authorization: `Basic ${btoa("alice:s3cret")}` };
    expect((await fetch(`${server.url}/v2/`, { headers: auth })).status).toBe(200);

    const data = new Uint8Array(3_000_000).map((_, i) => (i * 31) % 256);
    const digest = sha256(data);
    const put = await fetch(`${server.url}/v2/net/blobs/uploads/?digest=${digest}`, { method: "POST", body: data, headers: auth });
    expect(put.status).toBe(201);
    const get = await fetch(`${server.url}/v2/net/blobs/${digest}`, { headers: auth });
    expect(get.status).toBe(200);
    expect(get.headers.get("content-range")).toBeNull();
    expect(get.headers.get("content-length")).toBe(String(data.length));
    expect(get.headers.get("docker-content-digest")).toBe(digest);
    expect(sha256(new Uint8Array(await get.arrayBuffer()))).toBe(digest);
    const ranged = await fetch(`${server.url}/v2/net/blobs/${digest}`, { headers: { ...auth, Range: "bytes=100-199" } });
    expect(ranged.status).toBe(206);
    expect(ranged.headers.get("content-range")).toBe(`bytes 100-199/${data.length}`);
    expect(new Uint8Array(await ranged.arrayBuffer())).toEqual(data.slice(100, 200));
    const bad = await fetch(`${server.url}/v2/net/blobs/${digest}`, { headers: { ...auth, Range: `bytes=${data.length}-` } });
    expect(bad.status).toBe(416);
    const head = await fetch(`${server.url}/v2/net/blobs/${digest}`, { method: "HEAD", headers: auth });
    expect(head.status).toBe(200);
    expect(head.headers.get("content-length")).toBe(String(data.length));
    expect(lines.filter((l) => l.includes('"')).length).toBe(8);
    expect(lines.some((l) => /^127\.0\.0\.1 alice "GET \/v2\/net\/blobs\/sha256:[0-9a-f]+" 206 100 /.test(l))).toBe(true);
    expect(lines.some((l) => /^127\.0\.0\.1 - "GET \/v2\/" 401 /.test(l))).toBe(true);
  } finally {
    await server.stop();
  }
});
