/** Walks an image from its root descriptor: index -> platform manifests -> configs. */
import { type ImageConfig, parseImageConfig } from "../oci/config.ts";
import type { Descriptor, Platform } from "../oci/descriptor.ts";
import type { Digest } from "../oci/digest.ts";
import { type ImageIndex, type ImageManifest, MAX_MANIFEST_BYTES, type ParsedManifest, parseManifest } from "../oci/manifest.ts";
import { isImageManifestType } from "../oci/media-types.ts";

/** Anything that can hand out small blobs by digest, verified (a local store, a registry). */
export interface BlobSource {
  readBlob(digest: Digest, maxBytes?: number): Promise<Uint8Array>;
}

/** One runnable image of a (possibly multi-platform) image. */
export interface PlatformImage {
  descriptor: Descriptor;
  manifest: ImageManifest;
  manifestBytes: Uint8Array;
  config: ImageConfig;
  configBytes: Uint8Array;
  platform: Platform;
}

/** An image with its root document and every platform image under it. */
export interface LoadedImage {
  root: Descriptor;
  parsed: ParsedManifest;
  platforms: PlatformImage[];
}

/** Loads the root manifest and, for an index, each child image manifest (skipping non-image entries such as attestations). */
export async function loadImage(source: BlobSource, root: Descriptor): Promise<LoadedImage> {
  const parsed = parseManifest(await source.readBlob(root.digest, MAX_MANIFEST_BYTES), root.mediaType);
  if (parsed.kind === "image") {
    return { root, parsed, platforms: [await loadPlatform(source, root, parsed.bytes, parsed.manifest)] };
  }
  const platforms: PlatformImage[] = [];
  for (const child of imageEntries(parsed.manifest)) {
    const bytes = await source.readBlob(child.digest, MAX_MANIFEST_BYTES);
    const childParsed = parseManifest(bytes, child.mediaType);
    if (childParsed.kind !== "image") continue;
    platforms.push(await loadPlatform(source, child, bytes, childParsed.manifest));
  }
  return { root, parsed, platforms };
}

/** The entries of an index that are runnable images (not attestations or other artifacts). */
export function imageEntries(index: ImageIndex): Descriptor[] {
  // os "unknown" marks buildkit's attestation manifests.
  return index.manifests.filter((child) => isImageManifestType(child.mediaType) && child.platform?.os !== "unknown");
}

/** Reads the config of one image manifest and completes it into a platform image. */
export async function loadPlatform(
  source: BlobSource,
  descriptor: Descriptor,
  manifestBytes: Uint8Array,
  manifest: ImageManifest,
): Promise<PlatformImage> {
  const configBytes = await source.readBlob(manifest.config.digest, MAX_MANIFEST_BYTES);
  const config = parseImageConfig(configBytes);
  const platform: Platform = descriptor.platform ?? {
    os: config.os,
    architecture: config.architecture,
    ...(config.variant ? { variant: config.variant } : {}),
  };
  return { descriptor, manifest, manifestBytes, config, configBytes, platform };
}
