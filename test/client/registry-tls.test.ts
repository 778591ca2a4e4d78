/**
 * The registry client against registries on 127.0.0.1 that serve TLS with a self-signed
 * certificate: 2dfs's own registry (Bun's TLS resets a plain-HTTP request) and the distribution
 * registry (Go answers it with a 400). Without a scheme the client asks plain HTTP first and
 * moves to HTTPS; the certificate is trusted only through --ca-cert (caCert) or TDFS_CA_CERT.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { mkdtemp, readFile, readdir, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join, relative } from "node:path";
import { RegistryUnreachableError, TlsCertificateError } from "../../src/client/errors.ts";
import { pullImage } from "../../src/client/pull-image.ts";
import { type RegistryClientOptions, createRegistryClient } from "../../src/client/transport/registry-client.ts";
import { createLayoutStore } from "../../src/content/layout-store.ts";
import { startRegistry } from "../../src/registry/server.ts";
import { type RunningRegistry, startDistribution } from "./support/distribution.ts";
import { type TestImage, allotmentFiles, buildFieldImage, pushTestImage } from "./support/images.ts";

let work: string;
let cert: string;
let key: string;
let otherCert: string;
let tdfs: { url: string; stop(): Promise<void> };
let plainTdfs: { url: string; stop(): Promise<void> };
let distribution: RunningRegistry;
let image: TestImage;

/** A self-signed certificate for 127.0.0.1, as the README tells users to make one. */
function makeCert(dir: string, name: string, cn: string): { cert: string; key: string } {
  const [c, k] = [join(dir, `${name}.pem`), join(dir, `${name}.key`)];
  const made = Bun.spawnSync(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes", "-days", "1", "-subj", `/CN=${cn}`, "-addext", `subjectAltName=IP:${cn}`, "-keyout", k, "-out", c], { stderr: "pipe" });
  if (made.exitCode !== 0) throw new Error(`openssl failed: ${made.stderr.toString()}`);
  return { cert: c, key: k };
}

const hostOf = (url: string) => new URL(url).host;
const client = (registry: string, opts: Partial<RegistryClientOptions> = {}) => createRegistryClient({ registry, credentials: null, retry: { retries: 1, baseDelayMs: 10 }, ...opts });

async function listFiles(dir: string): Promise<Record<string, string>> {
  const out: Record<string, string> = {};
  for (const e of await readdir(dir, { recursive: true, withFileTypes: true })) {
    if (e.isFile()) out[relative(dir, join(e.parentPath, e.name))] = await readFile(join(e.parentPath, e.name), "utf8");
  }
  return out;
}

/** The error a promise rejects with. */
async function failure(p: Promise<unknown>): Promise<Error> {
  try {
    await p;
  } catch (error) {
    return error as Error;
  }
  throw new Error("expected a failure");
}

beforeAll(async () => {
  work = await mkdtemp(join(tmpdir(), "2dfs-registry-tls-"));
  ({ cert, key } = makeCert(work, "server", "127.0.0.1"));
  otherCert = makeCert(work, "other", "127.0.0.1").cert;
  tdfs = await startRegistry({ addr: "127.0.0.1:0", dataDir: join(work, "tdfs"), tlsCert: cert, tlsKey: key });
  plainTdfs = await startRegistry({ addr: "127.0.0.1:0", dataDir: join(work, "plain") });
  distribution = await startDistribution({ tls: { cert, key } });
  image = await buildFieldImage({ rows: 2, cols: 2, format: "native" });
});

afterAll(async () => {
  await tdfs?.stop();
  await plainTdfs?.stop();
  await distribution?.stop();
  await rm(work, { recursive: true, force: true });
});

describe("a loopback registry serving TLS, named without a scheme", () => {
  const registries = () => [
    ["2dfs serve (resets plain HTTP)", hostOf(tdfs.url)],
    ["distribution (answers plain HTTP with 400)", distribution.host],
  ] as const;

  test("with --ca-cert: push and pull of a partition go over HTTPS, blobs through fetch", async () => {
    for (const [, host] of registries()) {
      const pusher = await client(host, { caCert: cert });
      await pushTestImage(pusher, "tls/img", "v1", image);
      expect(pusher.baseUrl).toBe(`https://${host}`);

      const puller = await client(host, { caCert: cert });
      expect(puller.baseUrl).toBe(`http://${host}`); // plain HTTP is still asked first: no extra round trip for it
      const dir = join(work, `out-${host.replace(":", "_")}`);
      const store = createLayoutStore(await mkdtemp(join(work, "store-")));
      await pullImage(`${host}/tls/img:v1--0.1.1.1`, { dir, format: "files", store, client: puller });
      expect(await listFiles(dir)).toEqual({ ...allotmentFiles(0, 1), ...allotmentFiles(1, 1) });
      expect(puller.baseUrl).toBe(`https://${host}`);
      expect(puller.socketTarget).toBeUndefined(); // the own socket speaks plain HTTP only
    }
  });

  test("with TDFS_CA_CERT instead of the flag", async () => {
    const saved = process.env.TDFS_CA_CERT;
    process.env.TDFS_CA_CERT = cert;
    try {
      for (const [, host] of registries()) {
        const c = await client(host);
        await c.ping();
        expect(c.baseUrl).toBe(`https://${host}`);
      }
    } finally {
      if (saved === undefined) delete process.env.TDFS_CA_CERT;
      else process.env.TDFS_CA_CERT = saved;
    }
  });

  test("without a CA: one line that names the problem and the three ways to trust it", async () => {
    for (const [label, host] of registries()) {
      const error = await failure((await client(host)).getManifest("tls/img", "v1"));
      expect(error, label).toBeInstanceOf(TlsCertificateError);
      expect(error.message).toBe(
        `the TLS certificate of the registry ${host} is not trusted: it is self-signed; pass --ca-cert FILE, or set TDFS_CA_CERT or SSL_CERT_FILE, to a PEM file with that certificate or its CA's`,
      );
    }
  });

  test("a CA file that does not sign the certificate is named in the error", async () => {
    const error = await failure((await client(hostOf(tdfs.url), { caCert: otherCert })).ping());
    expect(error).toBeInstanceOf(TlsCertificateError);
    expect(error.message).toContain(`is not trusted by ${otherCert} or the default CAs: it is self-signed; pass --ca-cert FILE`);
  });

  test("a CA file that cannot be read, or holds no certificate, says so", async () => {
    const missing = join(work, "missing.pem");
    const e1 = await failure((await client(hostOf(tdfs.url), { caCert: missing })).ping());
    expect(e1).toBeInstanceOf(TlsCertificateError);
    expect(e1.message).toBe(`cannot read the CA certificate ${missing} (from --ca-cert): no such file`);
    const e2 = await failure((await client(hostOf(tdfs.url), { caCert: key })).ping());
    expect(e2.message).toBe(`${key} (from --ca-cert) holds no PEM certificate: expected a "-----BEGIN CERTIFICATE-----" block`);
  });
});

describe("a token server serving TLS", () => {
  test("its untrusted certificate is named as the token server's, not the registry's", async () => {
    const tokens = Bun.serve({ port: 0, hostname: "127.0.0.1", tls: { cert: Bun.file(cert), key: Bun.file(key) }, fetch: () => Response.json({ token: "t" }) });
    const realm = `https://127.0.0.1:${tokens.port}/token`;
    const registry = Bun.serve({
      port: 0,
      hostname: "127.0.0.1",
      fetch: () => new Response("{}", { status: 401, headers: { "www-authenticate": `Bearer realm="${realm}",service="x"` } }),
    });
    try {
      const error = await failure((await client(`127.0.0.1:${registry.port}`)).ping());
      expect(error).toBeInstanceOf(TlsCertificateError);
      expect(error.message).toBe(
        `the TLS certificate of the token server 127.0.0.1:${tokens.port} is not trusted: it is self-signed; pass --ca-cert FILE, or set TDFS_CA_CERT or SSL_CERT_FILE, to a PEM file with that certificate or its CA's`,
      );
      // With the CA the token is fetched, and the registry's 401 stands.
      const trusted = await failure((await client(`127.0.0.1:${registry.port}`, { caCert: cert })).ping());
      expect(trusted).not.toBeInstanceOf(TlsCertificateError);
    } finally {
      registry.stop(true);
      tokens.stop(true);
    }
  });
});

describe("an explicit scheme", () => {
  test("https reaches a loopback TLS registry directly, and fails at once, in our words, on a plain one", async () => {
    const tls = await client(hostOf(tdfs.url), { scheme: "https", caCert: cert });
    expect(tls.baseUrl).toBe(`https://${hostOf(tdfs.url)}`);
    await tls.ping();

    const plainHost = hostOf(plainTdfs.url);
    const error = await failure((await client(plainHost, { scheme: "https", retry: { retries: 4, baseDelayMs: 5_000 } })).ping());
    expect(error).toBeInstanceOf(RegistryUnreachableError);
    expect(error.message).toBe(`cannot reach the registry ${plainHost} over HTTPS (the TLS handshake failed): if it serves plain HTTP, name it http://${plainHost}/...`);
  });

  test("http is kept against a TLS port, and the failure carries none of the runtime's hints", async () => {
    const host = hostOf(tdfs.url);
    const c = await client(host, { scheme: "http", caCert: cert });
    const error = await failure(c.ping());
    expect(error).toBeInstanceOf(RegistryUnreachableError);
    expect(error.message).toBe(`GET http://${host}/v2/: the connection was closed before an answer came; if it serves HTTPS, name it https://${host}/...`);
    expect(error.message).not.toMatch(/verbose|fetch\(\)/);
  });

  test("a plain-HTTP loopback registry keeps plain HTTP and the own socket", async () => {
    const host = hostOf(plainTdfs.url);
    const c = await client(host);
    await c.ping();
    expect(c.baseUrl).toBe(`http://${host}`);
    expect(c.socketTarget).toBeDefined();
  });
});
