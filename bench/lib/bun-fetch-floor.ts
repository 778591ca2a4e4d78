/**
 * The floor for any Bun pull client, a reference row of bench/pull.ts: the image manifest, then
 * the config and every layer at once, each fetch Response handed to `Bun.write` (Bun's fastest
 * path to a file, see bench/transfer.ts), written as a minimal OCI layout. It verifies nothing,
 * resumes nothing and bounds nothing; a real client (2dfs) must also hash every byte.
 * Compiled by the bench with the same flags as the 2dfs binary, so both pay the same start-up.
 *
 *   bun-fetch-floor HOST REPO TAG OUTDIR
 */
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";

const [host, repo, tag, out] = process.argv.slice(2);
if (!host || !repo || !tag || !out) throw new Error("usage: bun-fetch-floor HOST REPO TAG OUTDIR");
const ACCEPT = [
  "application/vnd.oci.image.manifest.v1+json",
  "application/vnd.oci.image.index.v1+json",
  "application/vnd.docker.distribution.manifest.v2+json",
  "application/vnd.docker.distribution.manifest.list.v2+json",
].join(", ");

interface Blob {
  digest: string;
  size: number;
  mediaType?: string;
  platform?: { os?: string; architecture?: string };
}

async function manifest(ref: string): Promise<{ bytes: Uint8Array; type: string; doc: { config?: Blob; layers?: Blob[]; manifests?: Blob[] } }> {
  const res = await fetch(`http://${host}/v2/${repo}/manifests/${ref}`, { headers: { Accept: ACCEPT } });
  if (!res.ok) throw new Error(`manifest ${ref}: ${res.status}`);
  const bytes = new Uint8Array(await res.arrayBuffer());
  return { bytes, type: res.headers.get("content-type") ?? "", doc: JSON.parse(new TextDecoder().decode(bytes)) };
}

let m = await manifest(tag);
if (m.doc.manifests) {
  const child = m.doc.manifests.find((d) => d.platform?.os === "linux" && d.platform.architecture === "amd64") ?? m.doc.manifests[0];
  if (!child) throw new Error(`${tag}: empty index`);
  m = await manifest(child.digest);
}
const blobDir = join(out, "blobs", "sha256");
mkdirSync(blobDir, { recursive: true });
const blobs = [m.doc.config!, ...(m.doc.layers ?? [])];
await Promise.all(
  blobs.map(async (b) => {
    const res = await fetch(`http://${host}/v2/${repo}/blobs/${b.digest}`);
    if (!res.ok) throw new Error(`blob ${b.digest}: ${res.status}`);
    await Bun.write(join(blobDir, b.digest.slice("sha256:".length)), res);
  }),
);
const manifestDigest = `sha256:${new Bun.CryptoHasher("sha256").update(m.bytes).digest("hex")}`;
writeFileSync(join(blobDir, manifestDigest.slice("sha256:".length)), m.bytes);
writeFileSync(join(out, "oci-layout"), JSON.stringify({ imageLayoutVersion: "1.0.0" }));
const index = { schemaVersion: 2, manifests: [{ mediaType: m.type, digest: manifestDigest, size: m.bytes.length }] };
writeFileSync(join(out, "index.json"), JSON.stringify(index));
