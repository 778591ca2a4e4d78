/** Test helpers: an in-process registry client and independent digests (node:crypto). */
import { createHash } from "node:crypto";
import { createRegistryApp, type RegistryAppOptions } from "../../src/registry/app.ts";
import { createMemoryDriver } from "../../src/registry/driver/memory.ts";

/** sha256 digest computed independently of the code under test. */
export function sha256(bytes: Uint8Array | string): `sha256:${string}` {
  return `sha256:${createHash("sha256").update(bytes).digest("hex")}`;
}

/** sha512 digest computed independently. */
export function sha512(bytes: Uint8Array | string): `sha512:${string}` {
  return `sha512:${createHash("sha512").update(bytes).digest("hex")}`;
}

/** UTF-8 bytes of a string. */
export const enc = (s: string) => new TextEncoder().encode(s);

/** Compact JSON bytes. */
export const json = (doc: unknown) => enc(JSON.stringify(doc));

/** A small client calling the app in-process. */
export function createTestClient(opts: Partial<RegistryAppOptions> = {}) {
  const driver = opts.driver ?? createMemoryDriver();
  const app = createRegistryApp({ ...opts, driver });
  const req = (method: string, path: string, init: { headers?: Record<string, string>; body?: Uint8Array | string } = {}) =>
    app.handle(new Request(`http://localhost${path}`, { method, headers: init.headers, body: init.body }));
  return {
    app,
    driver,
    req,
    async pushBlob(name: string, bytes: Uint8Array | string): Promise<`sha256:${string}`> {
      const digest = sha256(bytes);
      const r = await req("POST", `/v2/${name}/blobs/uploads/?digest=${digest}`, {
        body: bytes,
        headers: { "Content-Type": "application/octet-stream" },
      });
      if (r.status !== 201) throw new Error(`push blob: ${r.status} ${await r.text()}`);
      return digest;
    },
    async pushManifest(name: string, reference: string, doc: unknown, mediaType = "application/vnd.oci.image.manifest.v1+json") {
      const bytes = typeof doc === "string" ? enc(doc) : json(doc);
      const r = await req("PUT", `/v2/${name}/manifests/${reference}`, { body: bytes, headers: { "Content-Type": mediaType } });
      if (r.status !== 201) throw new Error(`push manifest: ${r.status} ${await r.text()}`);
      return { digest: sha256(bytes), bytes, response: r };
    },
  };
}

/** A client type. */
export type TestClient = ReturnType<typeof createTestClient>;

/** Pushes a config + one layer and returns the image manifest (not yet pushed). */
export async function pushImageParts(c: TestClient, name: string, layerText = "layer", extra: Record<string, unknown> = {}) {
  const config = json({ architecture: "amd64", os: "linux", rootfs: { type: "layers", diff_ids: [sha256(layerText)] } });
  const configDigest = await c.pushBlob(name, config);
  const layerDigest = await c.pushBlob(name, layerText);
  return {
    schemaVersion: 2,
    mediaType: "application/vnd.oci.image.manifest.v1+json",
    config: { mediaType: "application/vnd.oci.image.config.v1+json", digest: configDigest, size: config.byteLength },
    layers: [{ mediaType: "application/vnd.oci.image.layer.v1.tar", digest: layerDigest, size: enc(layerText).byteLength }],
    ...extra,
  };
}

/** The first error code of an error envelope response. */
export async function errorOf(r: Response): Promise<{ status: number; code: string; detail: unknown }> {
  const body = (await r.json()) as { errors: { code: string; detail?: unknown }[] };
  return { status: r.status, code: body.errors[0]!.code, detail: body.errors[0]!.detail };
}
