/** Reads an image's amd64 manifest from a plain-HTTP registry on 127.0.0.1, to compare layers and count the bytes a pull needs. */
import { MANIFEST_MEDIA_TYPES } from "../../src/oci/media-types.ts";
import { parseManifest, type ImageManifest } from "../../src/oci/manifest.ts";

/** The image manifest behind `repo:ref` on `registry` ("127.0.0.1:PORT"), following an index to its linux/amd64 entry. */
export async function fetchImageManifest(registry: string, repo: string, ref: string): Promise<{ manifest: ImageManifest; bytes: number }> {
  const res = await fetch(`http://${registry}/v2/${repo}/manifests/${ref}`, { headers: { Accept: MANIFEST_MEDIA_TYPES.join(", ") } });
  if (res.status !== 200) throw new Error(`GET ${registry}/${repo}:${ref} answered ${res.status}: ${(await res.text()).slice(0, 300)}`);
  const parsed = parseManifest(new Uint8Array(await res.arrayBuffer()), res.headers.get("content-type") ?? undefined);
  if (parsed.kind === "image") return { manifest: parsed.manifest, bytes: parsed.bytes.byteLength };
  const child = parsed.manifest.manifests.find((d) => d.platform?.architecture === "amd64" && d.platform.os === "linux") ?? parsed.manifest.manifests[0];
  if (!child) throw new Error(`${registry}/${repo}:${ref} is an empty index`);
  const inner = await fetchImageManifest(registry, repo, child.digest);
  return { manifest: inner.manifest, bytes: inner.bytes + parsed.bytes.byteLength };
}

/** Bytes a cold pull of the manifest must download: config plus every layer. */
export function toPullBytes(m: ImageManifest): number {
  return m.config.size + m.layers.reduce((s, l) => s + l.size, 0);
}
