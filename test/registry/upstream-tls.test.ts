/** An edge in front of an HTTPS origin with a private CA: trusted through --upstream-ca (or $TDFS_CA_CERT), refused without. */
import { afterAll, beforeAll, expect, test } from "bun:test";
import { join } from "node:path";
import { toUpstreamOptions } from "../../src/cmd/serve-upstream.ts";
import { UsageError } from "../../src/cmd/errors.ts";
import { tempDirs } from "../support/temp.ts";
import { createTestClient, sha256 } from "./helpers.ts";
import { createEdge } from "./upstream-support.ts";

const temps = tempDirs();
let dir: string;
let ca: string;
let origin: ReturnType<typeof Bun.serve>;
const originClient = createTestClient();
const blob = new TextEncoder().encode("bytes behind TLS");
const digest = sha256(blob);

beforeAll(async () => {
  dir = await temps.make("2dfs-upstream-tls-");
  const made = Bun.spawnSync(
    ["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes", "-days", "1", "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1", "-keyout", join(dir, "key.pem"), "-out", join(dir, "cert.pem")],
    { stderr: "pipe" },
  );
  if (made.exitCode !== 0) throw new Error(`openssl failed: ${made.stderr.toString()}`);
  ca = await Bun.file(join(dir, "cert.pem")).text();
  await originClient.pushBlob("tls/img", blob);
  origin = Bun.serve({ hostname: "127.0.0.1", port: 0, tls: { cert: Bun.file(join(dir, "cert.pem")), key: Bun.file(join(dir, "key.pem")) }, fetch: (req) => originClient.app.handle(req) });
});
afterAll(async () => {
  origin?.stop(true);
  await temps.cleanup();
});

const url = () => `https://127.0.0.1:${origin.port}`;

test("with the origin's CA the edge fetches, verifies and serves the blob", async () => {
  const edge = createEdge(url(), { caPem: ca });
  const res = await edge.req("GET", `/v2/tls/img/blobs/${digest}`);
  expect(res.status).toBe(200);
  expect(new Uint8Array(await res.arrayBuffer())).toEqual(blob);
});

test("without it the self-signed origin is not trusted: the edge answers an error and keeps nothing", async () => {
  const edge = createEdge(url());
  const res = await edge.req("GET", `/v2/tls/img/blobs/${digest}`);
  expect(res.status).toBe(502);
  expect(await res.text()).toContain("self signed certificate");
  const again = await createEdge(url(), { caPem: ca }).req("HEAD", `/v2/tls/img/blobs/${digest}`);
  expect(again.status).toBe(200);
  expect(await edge.driver.list("blobs/sha256")).toEqual([]);
});

test("--upstream-ca, else TDFS_CA_CERT, is read at start; an unreadable or non-PEM file is one usage error", () => {
  const file = join(dir, "cert.pem");
  expect(toUpstreamOptions({ upstream: url(), upstreamCa: file })?.caPem).toBe(ca);
  const saved = process.env.TDFS_CA_CERT;
  try {
    process.env.TDFS_CA_CERT = file;
    expect(toUpstreamOptions({ upstream: url() })?.caPem).toBe(ca);
  } finally {
    if (saved === undefined) delete process.env.TDFS_CA_CERT;
    else process.env.TDFS_CA_CERT = saved;
  }
  expect(() => toUpstreamOptions({ upstream: url(), upstreamCa: join(dir, "missing.pem") })).toThrow(UsageError);
  expect(() => toUpstreamOptions({ upstream: url(), upstreamCa: join(dir, "key.pem") })).toThrow(/holds no PEM certificate/);
  expect(() => toUpstreamOptions({ upstreamCa: file })).toThrow(/need --upstream URL/);
});
