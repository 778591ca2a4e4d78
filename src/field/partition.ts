/**
 * Partitions: a rectangle selection of a field served as an ordinary OCI image. Native fields
 * are partitioned by leaving layers out; reference fields by flattening the selected cells of
 * the field blob into layers. Pure index manipulation: no layer blob is read or written.
 */
import { Annotation, TDFS_FORMAT_VERSION } from "../oci/annotations.ts";
import type { HistoryEntry, ImageConfig } from "../oci/config.ts";
import type { Descriptor } from "../oci/descriptor.ts";
import type { Digest } from "../oci/digest.ts";
import type { ImageIndex, ImageManifest } from "../oci/manifest.ts";
import { MediaType } from "../oci/media-types.ts";
import type { Rect } from "../oci/partition-suffix.ts";
import { EmptySelectionError, FieldFormatError, selectNonEmpty, toJsonBytes } from "./field.ts";
import { historyWithoutLayers, paddedBaseHistory } from "./layer-history.ts";
import { ALLOTMENT_HISTORY_COMMENT, readNativeField, toCellsAnnotation } from "./native-format.ts";

/** A reference-field cell with what its layer descriptor needs (from a stat of its blob). */
export interface ResolvedCell {
  row: number;
  col: number;
  digest: Digest;
  diffId: Digest;
  size: number;
  mediaType: string;
}

/** A partition's manifest and config, with their exact bytes, and how many allotments it holds. */
export interface PartitionResult {
  manifest: ImageManifest;
  manifestBytes: Uint8Array;
  config: ImageConfig;
  configBytes: Uint8Array;
  selected: number;
}

/** About the most layers an overlayfs-based runtime stacks. */
export const MAX_RUNTIME_LAYERS = 125;

/** A warning when an image of `n` layers is more than runtimes can stack, else undefined. */
export function layerCountWarning(n: number): string | undefined {
  if (n <= MAX_RUNTIME_LAYERS) return undefined;
  return `the image has ${n} layers, more than the about ${MAX_RUNTIME_LAYERS} a container runtime can stack; pull a partition (tag--x1.y1.x2.y2) to run it`;
}

/**
 * The partition of a native field: unselected allotment layers are left out together with
 * their diff_ids and history entries; every other field of manifest and config is kept in
 * place. The same set of selected cells always gives the same bytes.
 */
export function partitionNative(
  manifest: ImageManifest,
  config: ImageConfig,
  rects: Rect[],
  opts: { sha256(b: Uint8Array): Digest },
): PartitionResult {
  const { baseLayerCount, allotments } = readNativeField(manifest, config);
  const selected = selectNonEmpty(allotments, rects);
  const keep = new Set(selected.map((a) => allotments.indexOf(a) + baseLayerCount));
  const dropped = (layer: number) => layer >= baseLayerCount && !keep.has(layer);
  const layers = manifest.layers.filter((_, i) => !dropped(i));
  const diffIds = config.rootfs.diff_ids.filter((_, i) => !dropped(i));
  const newConfig: ImageConfig = { ...config, rootfs: { ...config.rootfs, diff_ids: diffIds } };
  if (config.history) newConfig.history = historyWithoutLayers(config.history, manifest.layers.length, dropped);
  const annotations = manifest.annotations?.[Annotation.tdfsCells] === undefined
    ? manifest.annotations
    : { ...manifest.annotations, [Annotation.tdfsCells]: toCellsAnnotation(selected) };
  return finish({ ...manifest, ...(annotations ? { annotations } : {}) }, newConfig, layers, selected.length, opts);
}

/**
 * The partition of a reference field (whose cells the caller read from the field blob and
 * resolved): the field layer is dropped and one layer per selected cell appended in row-major
 * order, each listed in diff_ids and, when the config has a history, in history. Overlapping
 * rectangles never repeat a layer.
 */
export function partitionReference(
  manifest: ImageManifest,
  config: ImageConfig,
  cells: ResolvedCell[],
  rects: Rect[],
  opts: { sha256(b: Uint8Array): Digest },
): PartitionResult {
  const fieldLayers = manifest.layers.filter(isFieldLayer);
  if (fieldLayers.length === 0) throw new FieldFormatError("the manifest has no 2dfs field layer");
  if (fieldLayers.length > 1) throw new FieldFormatError(`the manifest has ${fieldLayers.length} 2dfs field layers; expected one`);
  const baseLayers = manifest.layers.filter((l) => !isFieldLayer(l));
  if (config.rootfs.diff_ids.length !== baseLayers.length) {
    throw new FieldFormatError(
      `config lists ${config.rootfs.diff_ids.length} diff_ids but the manifest has ${baseLayers.length} layers besides the field`,
    );
  }
  const selected = selectNonEmpty(cells, rects);
  const layers: Descriptor[] = [
    ...baseLayers,
    ...selected.map((c) => ({
      mediaType: c.mediaType,
      digest: c.digest,
      size: c.size,
      annotations: { [Annotation.tdfsRow]: String(c.row), [Annotation.tdfsCol]: String(c.col) },
    })),
  ];
  const newConfig: ImageConfig = {
    ...config,
    rootfs: { ...config.rootfs, diff_ids: [...config.rootfs.diff_ids, ...selected.map((c) => c.diffId)] },
  };
  if (config.history) {
    // The history must not depend on when the partition is asked for, or its digest would change.
    const created = typeof config.created === "string" ? { created: config.created } : {};
    const entries: HistoryEntry[] = selected.map((c) => ({
      ...created,
      created_by: `2dfs allotment row ${c.row} col ${c.col}`,
      comment: ALLOTMENT_HISTORY_COMMENT,
    }));
    newConfig.history = [...paddedBaseHistory(config, baseLayers.length), ...entries];
  }
  // The flattened image is a native field (every allotment a layer the manifest names), and says
  // so, so that it can be partitioned again, by 2dfs serve or client-side by 2dfs pull.
  const marked: ImageManifest = isDockerManifest(manifest)
    ? manifest
    : { ...manifest, annotations: { ...manifest.annotations, [Annotation.tdfsVersion]: TDFS_FORMAT_VERSION, [Annotation.tdfsCells]: toCellsAnnotation(selected) } };
  return finish(marked, newConfig, layers, selected.length, opts);
}

// Docker schema 2 manifests have no annotations field.
function isDockerManifest(manifest: ImageManifest): boolean {
  return manifest.mediaType === MediaType.dockerManifest;
}

function isFieldLayer(layer: Descriptor): boolean {
  return layer.mediaType === MediaType.tdfsField;
}

function finish(
  manifest: ImageManifest,
  config: ImageConfig,
  layers: Descriptor[],
  selected: number,
  opts: { sha256(b: Uint8Array): Digest },
): PartitionResult {
  const configBytes = toJsonBytes(config);
  const newManifest: ImageManifest = {
    ...manifest,
    config: { ...manifest.config, digest: opts.sha256(configBytes), size: configBytes.byteLength },
    layers,
  };
  return { manifest: newManifest, manifestBytes: toJsonBytes(newManifest), config, configBytes, selected };
}

/**
 * The partition of an index: each entry is replaced by what `replace` returns (its partition's
 * descriptor) keeping its platform, annotations and other fields; entries mapped to undefined
 * are dropped. Throws EmptySelectionError when no entry is left.
 */
export function partitionIndex(index: ImageIndex, replace: (d: Descriptor) => Descriptor | undefined): { index: ImageIndex; bytes: Uint8Array } {
  const manifests: Descriptor[] = [];
  for (const entry of index.manifests) {
    const partition = replace(entry);
    if (!partition) continue;
    manifests.push({ ...entry, mediaType: partition.mediaType, digest: partition.digest, size: partition.size });
  }
  if (manifests.length === 0 && index.manifests.length > 0) {
    throw new EmptySelectionError("no manifest of the index has allotments in the selected rectangles");
  }
  const out: ImageIndex = { ...index, manifests };
  return { index: out, bytes: toJsonBytes(out) };
}
