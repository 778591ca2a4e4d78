/**
 * Picks the image of one platform: from an index's descriptors when they name their platforms
 * (so that only the chosen manifest is fetched, not every platform's manifest and config), from
 * the configs otherwise.
 */
import { type BlobSource, imageEntries, loadImage } from "../../content/image-graph.ts";
import { type Descriptor, type Platform, platformMatches, toPlatformString } from "../../oci/descriptor.ts";
import { type ImageManifest, MAX_MANIFEST_BYTES, type ParsedManifest, parseManifest } from "../../oci/manifest.ts";
import { type ImageReference, toFamiliarString } from "../../oci/reference.ts";
import { ImageNotFoundError } from "../errors.ts";
import { hostPlatform } from "../../oci/host-platform.ts";

/** The one of `candidates` matching `wanted` (default: this machine), or the only one when nothing is asked. */
export function choosePlatform<T extends { platform: Platform }>(candidates: T[], wanted: Platform | undefined, reference: ImageReference): T {
  if (candidates.length === 1 && !wanted) return candidates[0]!;
  const target = wanted ?? hostPlatform();
  const match = candidates.find((p) => platformMatches(p.platform, target));
  if (match) return match;
  throw new ImageNotFoundError(
    `${toFamiliarString(reference)} has no image for ${toPlatformString(target)} (it has ${candidates.map((p) => toPlatformString(p.platform)).join(", ") || "none"}); choose one with --platform`,
  );
}

/** An image manifest chosen from a root document, before its config is read. */
export interface PickedManifest {
  descriptor: Descriptor;
  manifest: ImageManifest;
  manifestBytes: Uint8Array;
}

/**
 * The image manifest of `root` for `wanted`. A single manifest is returned as it is (the caller
 * checks its platform against the config). For an index, the descriptors' platform fields decide
 * when every entry has one; otherwise every entry's config is read, as `loadImage` does.
 */
export async function pickManifest(
  source: BlobSource,
  root: { descriptor: Descriptor; parsed: ParsedManifest },
  wanted: Platform | undefined,
  reference: ImageReference,
): Promise<PickedManifest> {
  const { parsed } = root;
  if (parsed.kind === "image") return { descriptor: root.descriptor, manifest: parsed.manifest, manifestBytes: parsed.bytes };
  const entries = imageEntries(parsed.manifest);
  if (entries.length > 0 && entries.every((e) => e.platform !== undefined)) {
    const { descriptor } = choosePlatform(entries.map((e) => ({ descriptor: e, platform: e.platform! })), wanted, reference);
    const bytes = await source.readBlob(descriptor.digest, MAX_MANIFEST_BYTES);
    const child = parseManifest(bytes, descriptor.mediaType);
    if (child.kind !== "image") throw new ImageNotFoundError(`${toFamiliarString(reference)}: ${descriptor.digest} is listed as an image but is an index`);
    return { descriptor, manifest: child.manifest, manifestBytes: bytes };
  }
  const image = choosePlatform((await loadImage(source, root.descriptor)).platforms, wanted, reference);
  return { descriptor: image.descriptor, manifest: image.manifest, manifestBytes: image.manifestBytes };
}
