/**
 * Turns one platform image and an optional selection into what a pull or export needs: the
 * resulting manifest and config (the partition, client-side, or the image as it is) and its
 * layers split into base layers and allotment layers. Works the same for remote and local images.
 */
import type { BlobSource, PlatformImage } from "../../content/image-graph.ts";
import type { ImageConfig } from "../../oci/config.ts";
import type { Descriptor, Platform } from "../../oci/descriptor.ts";
import type { Digest } from "../../oci/digest.ts";
import type { ImageManifest } from "../../oci/manifest.ts";
import { type Rect, WHOLE_FIELD } from "../../oci/partition-suffix.ts";
import { sha256Bytes } from "../../hash/sha256.ts";
import { findNativeField, isNativeField, readNativeField, readNativeLayout } from "../../field/native-format.ts";
import { type ResolvedCell, partitionNative, partitionReference } from "../../field/partition.ts";
import { MAX_FIELD_BLOB_BYTES, findReferenceFieldLayer, parseReferenceField } from "../../field/reference-format.ts";
import { selectAllotments, selectNonEmpty } from "../../field/field.ts";
import { runBounded } from "../../util/run-bounded.ts";

/** What a pull or export writes: the (partitioned) image and its layers in order. */
export interface ImagePlan {
  platform: Platform;
  manifest: ImageManifest;
  manifestBytes: Uint8Array;
  config: ImageConfig;
  configBytes: Uint8Array;
  /** "native", "reference" (the reference implementation's field blob) or "plain" (no field). */
  fieldFormat: "native" | "reference" | "plain";
  baseLayers: Descriptor[];
  /** The allotment layers of the selection (all of them without one), row-major. */
  allotments: Descriptor[];
}

/** Thrown when a partition or allotment files are asked of an image without a field. */
export class NotAFieldError extends Error {
  override name = "NotAFieldError";
}

/** Size and media type of a reference-field allotment blob (which the field blob does not record). */
export type StatBlob = (digest: Digest) => Promise<{ size: number; mediaType: string }>;

/** Plans the image for `rects` (undefined: the whole image). */
export async function planImage(
  source: BlobSource,
  image: PlatformImage,
  rects: Rect[] | undefined,
  statBlob: StatBlob,
  jobs = 4,
): Promise<ImagePlan> {
  const { manifest, config } = image;
  const common = { platform: image.platform };
  const fieldAt = findReferenceFieldLayer(manifest);
  // The reference format is told by its field layer; a native field by its annotations or, when
  // a copy dropped them all, by the config history (see findNativeField).
  if (isNativeField(manifest) || (fieldAt < 0 && findNativeField(manifest, config))) {
    const result = rects ? partitionNative(manifest, config, rects, { sha256: sha256Bytes }) : undefined;
    const m = result?.manifest ?? manifest;
    const c = result?.config ?? config;
    const { baseLayerCount } = readNativeField(m, c);
    return {
      ...common,
      manifest: m,
      manifestBytes: result?.manifestBytes ?? image.manifestBytes,
      config: c,
      configBytes: result?.configBytes ?? image.configBytes,
      fieldFormat: "native",
      baseLayers: m.layers.slice(0, baseLayerCount),
      allotments: m.layers.slice(baseLayerCount),
    };
  }
  if (fieldAt >= 0) {
    const cells = parseReferenceField(await source.readBlob(manifest.layers[fieldAt]!.digest, MAX_FIELD_BLOB_BYTES));
    // The image as stored is no image a runtime can apply (its field blob is not a tar, and its
    // config lists no allotment): the whole image is its whole field flattened, as 2dfs serve
    // answers the plain tag, so exports and OCI layouts are consistent, whole images.
    const selection = rects ?? [...WHOLE_FIELD];
    const chosen = selectNonEmpty(cells, selection);
    const resolved: ResolvedCell[] = await runBounded(chosen, jobs, async (c) => ({ ...c, ...(await statBlob(c.digest)) }));
    const baseLayers = manifest.layers.filter((_, i) => i !== fieldAt);
    const result = partitionReference(manifest, config, resolved, selection, { sha256: sha256Bytes });
    return {
      ...common,
      manifest: result.manifest,
      manifestBytes: result.manifestBytes,
      config: result.config,
      configBytes: result.configBytes,
      fieldFormat: "reference",
      baseLayers,
      allotments: result.manifest.layers.slice(baseLayers.length),
    };
  }
  if (rects) throw new NotAFieldError("the image has no 2DFS field, so it has no partitions; drop the --x1.y1.x2.y2 suffix");
  return { ...common, manifest, manifestBytes: image.manifestBytes, config, configBytes: image.configBytes, fieldFormat: "plain", baseLayers: manifest.layers, allotments: [] };
}

/**
 * Each layer's diff_id (the digest of its uncompressed tar) as the plan's config names it, by
 * layer digest. Empty when the config lists another number of diff_ids than the manifest layers
 * (nothing can be paired then; such an image fails in Docker and containerd anyway).
 */
export function layerDiffIds(plan: Pick<ImagePlan, "manifest" | "config">): Map<Digest, Digest> {
  const layers = plan.manifest.layers;
  const diffIds = plan.config.rootfs.diff_ids;
  if (layers.length !== diffIds.length) return new Map();
  return new Map(layers.map((l, i) => [l.digest, diffIds[i]!]));
}

/**
 * The layers a plan of `manifest` for `rects` will list, as far as the manifest alone tells,
 * before the config (or a reference field's blob) is read, so that a pull can start downloading
 * them while it fetches the config. Never more than the plan needs; empty when unsure (planImage
 * reports what is wrong). `withBase`: include the base layers (every format but files).
 */
export function layersBeforeConfig(manifest: ImageManifest, rects: Rect[] | undefined, withBase: boolean): Descriptor[] {
  try {
    if (isNativeField(manifest)) {
      const { baseLayerCount, cells } = readNativeLayout(manifest);
      const chosen = rects ? selectAllotments(cells, rects) : cells;
      return [...(withBase ? manifest.layers.slice(0, baseLayerCount) : []), ...chosen.map((c) => c.layer)];
    }
    const fieldAt = findReferenceFieldLayer(manifest);
    if (fieldAt >= 0) return withBase ? manifest.layers.filter((_, i) => i !== fieldAt) : [];
    return withBase && !rects ? manifest.layers : [];
  } catch {
    return [];
  }
}
