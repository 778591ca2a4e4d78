/** Pushes hand-crafted (hostile) images: raw layer bytes, exactly as given, as a native field or a plain image. */
import { uploadBlob } from "../../../src/client/transport/blob-upload.ts";
import { hostPlatform } from "../../../src/oci/host-platform.ts";
import type { RegistryClient } from "../../../src/client/transport/registry-client.ts";
import { Annotation } from "../../../src/oci/annotations.ts";
import { MediaType } from "../../../src/oci/media-types.ts";
import { gunzipSync, zstdDecompressSync } from "node:zlib";
import { sha256 } from "./layers.ts";

/** One layer as pushed: its bytes (any compression, or garbage), the media type to claim and the diff_id to claim. */
export interface CraftedLayer {
  bytes: Uint8Array;
  gzip?: boolean;
  zstd?: boolean;
  /** Default: the digest of the bytes decompressed whole, or of the bytes themselves when they do not decompress. */
  diffId?: string;
}

/** What an honest builder would put in diff_ids for `l`: the digest of its tar. */
function honestDiffId(l: CraftedLayer): string {
  if (l.diffId) return l.diffId;
  try {
    if (l.gzip) return sha256(new Uint8Array(gunzipSync(l.bytes)));
    if (l.zstd) return sha256(new Uint8Array(zstdDecompressSync(l.bytes)));
  } catch {
    // Broken on purpose: the pull fails on decoding before any diff_id matters.
  }
  return sha256(l.bytes);
}

/**
 * Pushes `repo:tag` with `base` layers and, when `allotments` is given, a native field of one row
 * (allotment i at (0, i)). The config's diff_ids are honestDiffId's unless a layer names one.
 * Returns the digests of the allotment and base layers, in order.
 */
export async function pushCraftedImage(
  client: RegistryClient,
  repo: string,
  tag: string,
  opts: { base?: CraftedLayer[]; allotments?: CraftedLayer[] },
): Promise<{ base: string[]; allotments: string[] }> {
  const describe = async (l: CraftedLayer, annotations?: Record<string, string>) => {
    const d = { digest: sha256(l.bytes), size: l.bytes.byteLength };
    await uploadBlob(client, repo, d, new Blob([l.bytes]));
    return { mediaType: l.gzip ? MediaType.ociLayerGzip : l.zstd ? MediaType.ociLayerZstd : MediaType.ociLayer, ...d, ...(annotations ? { annotations } : {}) };
  };
  const base = await Promise.all((opts.base ?? []).map((l) => describe(l)));
  const allotments = await Promise.all(
    (opts.allotments ?? []).map((l, i) => describe(l, { [Annotation.tdfsRow]: "0", [Annotation.tdfsCol]: String(i) })),
  );
  const layers = [...base, ...allotments];
  const diffIds = [...(opts.base ?? []), ...(opts.allotments ?? [])].map(honestDiffId);
  const platform = hostPlatform();
  const config = new TextEncoder().encode(
    JSON.stringify({ architecture: platform.architecture, os: platform.os, rootfs: { type: "layers", diff_ids: diffIds } }),
  );
  await uploadBlob(client, repo, { digest: sha256(config), size: config.byteLength }, new Blob([config]));
  const manifest = {
    schemaVersion: 2,
    mediaType: MediaType.ociManifest,
    config: { mediaType: MediaType.ociConfig, digest: sha256(config), size: config.byteLength },
    layers,
    ...(opts.allotments ? { annotations: { [Annotation.tdfsVersion]: "1" } } : {}),
  };
  await client.putManifest(repo, tag, new TextEncoder().encode(JSON.stringify(manifest)), MediaType.ociManifest);
  return { base: base.map((l) => l.digest), allotments: allotments.map((l) => l.digest) };
}
