/**
 * 2dfs's own field format: every allotment is an ordinary layer after the base layers, in
 * row-major order, carrying its cell as descriptor annotations; the manifest is marked with the
 * format version and its cell list. Every blob is referenced the standard way, so copies and GC
 * keep it. Copies drop annotations (skopeo those of layers it recompresses, docker push all), so
 * a field is read by an order of authority: cell list, layer annotations, config history.
 */
import { Annotation, TDFS_FORMAT_VERSION } from "../oci/annotations.ts";
import type { HistoryEntry, ImageConfig } from "../oci/config.ts";
import type { Descriptor } from "../oci/descriptor.ts";
import { type Digest, parseDigest } from "../oci/digest.ts";
import type { ImageManifest } from "../oci/manifest.ts";
import { MediaType } from "../oci/media-types.ts";
import { MAX_FIELD_INDEX } from "../oci/partition-suffix.ts";
import { type Allotment, FieldFormatError, compareCells, toJsonBytes } from "./field.ts";
import { ALLOTMENT_HISTORY_COMMENT, FIELD_START_HISTORY_COMMENT, allotmentCellsFromHistory, paddedBaseHistory } from "./layer-history.ts";
import { toOciManifest } from "./oci-conversion.ts";

export { ALLOTMENT_HISTORY_COMMENT } from "./layer-history.ts";

/**
 * True when the manifest itself says it holds a native field: the format marker or the cell list.
 * A field that lost both (Docker schema 2 has no annotations) is found by findNativeField from
 * its config history.
 */
export function isNativeField(manifest: ImageManifest): boolean {
  const a = manifest.annotations;
  return typeof a?.[Annotation.tdfsVersion] === "string" || typeof a?.[Annotation.tdfsCells] === "string";
}

/** True when a layer descriptor carries allotment coordinates. */
export function isAllotmentLayer(layer: Descriptor): boolean {
  const a = layer.annotations;
  return a !== undefined && (Annotation.tdfsRow in a || Annotation.tdfsCol in a);
}

/**
 * Where a field was read from, in order of authority: the manifest's cell list, the layers'
 * coordinate annotations (manifests written before the cell list existed), the config history.
 */
export type FieldSource = "cells" | "layer-annotations" | "history";

/** A native field as the manifest describes it: where allotments start and each one's cell and layer. */
export interface NativeLayout {
  baseLayerCount: number;
  cells: { row: number; col: number; layer: Descriptor }[];
  source: FieldSource;
}

/**
 * Reads and validates the field of a manifest that isNativeField accepts, from the manifest alone.
 * Order of authority: (1) the cell list `io.2dfs.field.cells`: the last N layers are the
 * allotments, in its order, and a layer whose coordinate annotations disagree with it is an error;
 * (2) without it, the layers' coordinate annotations (every layer from the first annotated one on
 * must be annotated). Nothing is ever guessed from layer positions.
 */
export function readNativeLayout(manifest: ImageManifest): NativeLayout {
  const version = manifest.annotations?.[Annotation.tdfsVersion];
  if (!isNativeField(manifest)) {
    throw new FieldFormatError(`manifest has no ${Annotation.tdfsVersion} or ${Annotation.tdfsCells} annotation: not a 2DFS field`);
  }
  if (version !== undefined && version !== TDFS_FORMAT_VERSION) {
    throw new FieldFormatError(`unsupported 2DFS field format version "${version}" (this 2dfs reads version ${TDFS_FORMAT_VERSION})`);
  }
  const listed = readCells(manifest);
  return listed ? layoutFromCells(manifest, listed) : layoutFromLayerAnnotations(manifest);
}

function layoutFromCells(manifest: ImageManifest, listed: { row: number; col: number }[]): NativeLayout {
  const first = manifest.layers.length - listed.length;
  if (first < 0) {
    throw new FieldFormatError(`${Annotation.tdfsCells} lists ${listed.length} cells but the manifest has ${manifest.layers.length} layers`);
  }
  const cells: NativeLayout["cells"] = [];
  manifest.layers.forEach((layer, i) => {
    const annotated = isAllotmentLayer(layer) ? annotatedCell(layer, i) : undefined;
    if (i < first) {
      if (annotated) {
        throw new FieldFormatError(
          `layers[${i}] is annotated as allotment (${annotated.row}, ${annotated.col}) but ${Annotation.tdfsCells} lists ${listed.length} cells, which makes it a base layer`,
        );
      }
      return;
    }
    const { row, col } = listed[i - first]!;
    if (annotated && (annotated.row !== row || annotated.col !== col)) {
      throw new FieldFormatError(
        `layers[${i}] is annotated as allotment (${annotated.row}, ${annotated.col}) but ${Annotation.tdfsCells} says (${row}, ${col})`,
      );
    }
    cells.push(checkedNext(cells, { row, col, layer }, i));
  });
  return { baseLayerCount: first, cells, source: "cells" };
}

function layoutFromLayerAnnotations(manifest: ImageManifest): NativeLayout {
  const found = manifest.layers.findIndex(isAllotmentLayer);
  const first = found >= 0 ? found : manifest.layers.length;
  const cells: NativeLayout["cells"] = [];
  for (let i = first; i < manifest.layers.length; i++) {
    const layer = manifest.layers[i]!;
    if (!isAllotmentLayer(layer)) throw new FieldFormatError(`layers[${i}] has no allotment coordinates but follows allotment layers`);
    cells.push(checkedNext(cells, { ...annotatedCell(layer, i), layer }, i));
  }
  return { baseLayerCount: first, cells, source: "layer-annotations" };
}

/**
 * Rule (3): a field whose manifest lost every 2dfs annotation (e.g. `docker push` writes Docker
 * schema 2, which has none) read from the config history 2dfs wrote: the trailing allotment
 * entries name the last layers. Undefined when the history names no allotment.
 */
export function readHistoryLayout(manifest: ImageManifest, config: ImageConfig): NativeLayout | undefined {
  const listed = allotmentCellsFromHistory(config.history, MAX_FIELD_INDEX);
  if (listed.length === 0) return undefined;
  const first = manifest.layers.length - listed.length;
  if (first < 0) {
    throw new FieldFormatError(`the config history names ${listed.length} allotments but the manifest has ${manifest.layers.length} layers`);
  }
  const cells = listed.map((c, i) => ({ ...c, layer: manifest.layers[first + i]! }));
  return { baseLayerCount: first, cells, source: "history" };
}

/**
 * The field of an image by the whole order of authority: the manifest's annotations (see
 * readNativeLayout), else the config history (readHistoryLayout). Undefined when neither
 * describes a field. Layers and diff_ids must agree in number.
 */
export function findNativeField(manifest: ImageManifest, config: ImageConfig): NativeField | undefined {
  const layout = isNativeField(manifest) ? readNativeLayout(manifest) : readHistoryLayout(manifest, config);
  if (!layout) return undefined;
  const { baseLayerCount, cells, source } = layout;
  const diffIds = config.rootfs.diff_ids;
  if (diffIds.length !== manifest.layers.length) {
    throw new FieldFormatError(
      `config lists ${diffIds.length} diff_ids but the manifest has ${manifest.layers.length} layers`,
    );
  }
  return { baseLayerCount, source, allotments: cells.map((c, i) => ({ ...c, diffId: diffIds[baseLayerCount + i]! })) };
}

/** A native field read with its config. */
export interface NativeField {
  baseLayerCount: number;
  allotments: Allotment[];
  source: FieldSource;
}

/** Like findNativeField, but an image without a field is an error. */
export function readNativeField(manifest: ImageManifest, config: ImageConfig): NativeField {
  const field = findNativeField(manifest, config);
  if (!field) throw new FieldFormatError("the image has no 2DFS field: no field annotations on the manifest and no allotment entries in the config history");
  return field;
}

function annotatedCell(layer: Descriptor, i: number): { row: number; col: number } {
  return {
    row: parseCoordinate(layer.annotations![Annotation.tdfsRow], Annotation.tdfsRow, i),
    col: parseCoordinate(layer.annotations![Annotation.tdfsCol], Annotation.tdfsCol, i),
  };
}

// Cells must be strictly row-major: a repeat or a step back means a corrupt manifest.
function checkedNext<T extends { row: number; col: number }>(cells: readonly T[], cell: T, i: number): T {
  const previous = cells[cells.length - 1];
  if (previous) {
    const order = compareCells(previous, cell);
    if (order === 0) throw new FieldFormatError(`layers[${i}]: cell (${cell.row}, ${cell.col}) appears twice`);
    if (order > 0) {
      throw new FieldFormatError(
        `layers[${i}]: cell (${cell.row}, ${cell.col}) comes after (${previous.row}, ${previous.col}); allotments must be in row-major order`,
      );
    }
  }
  return cell;
}

/** The manifest-level cell list, or undefined when the manifest has none. */
function readCells(manifest: ImageManifest): { row: number; col: number }[] | undefined {
  const text = manifest.annotations?.[Annotation.tdfsCells];
  if (text === undefined) return undefined;
  if (text === "") return [];
  return text.split(" ").map((cell, i) => {
    const [row, col, extra] = cell.split(".");
    if (extra !== undefined) throw new FieldFormatError(`${Annotation.tdfsCells}: cell ${i} "${cell}" is not row.col`);
    return { row: parseCoordinate(row, Annotation.tdfsCells, i), col: parseCoordinate(col, Annotation.tdfsCells, i) };
  });
}

/** The manifest-level cell list for allotments in layer order. */
export function toCellsAnnotation(cells: readonly { row: number; col: number }[]): string {
  return cells.map((c) => `${c.row}.${c.col}`).join(" ");
}

function parseCoordinate(value: string | undefined, key: string, layer: number): number {
  if (value === undefined) throw new FieldFormatError(`layers[${layer}]: missing annotation ${key}`);
  if (!/^(0|[1-9]\d{0,6})$/.test(value) || Number(value) > MAX_FIELD_INDEX) {
    throw new FieldFormatError(
      `layers[${layer}]: annotation ${key} must be a decimal integer 0..${MAX_FIELD_INDEX}, got ${JSON.stringify(value)}`,
    );
  }
  return Number(value);
}

/** What composeNative and composeReference produce: the documents and their exact bytes. */
export interface ComposedImage {
  manifest: ImageManifest;
  manifestBytes: Uint8Array;
  config: ImageConfig;
  configBytes: Uint8Array;
  configDescriptor: Descriptor;
}

/**
 * Writes a native field on top of a base image (none = scratch). Base fields are kept, unknown
 * ones included. A Docker base manifest becomes an OCI one (Docker schema 2 cannot carry the
 * marker annotation). A base that is itself a native field contributes its allotments as plain
 * base layers (their coordinates are removed), so the result has exactly one field.
 * History: a base history describing fewer layers than the base has is padded at its end, so
 * each allotment's history entry lines up with its layer; a field-start marker (an empty-layer
 * entry) follows a base history that ends with allotment entries.
 */
export function composeNative(
  base: { manifest?: ImageManifest; config: ImageConfig },
  allotments: Allotment[],
  opts: { created: string; describe(a: Allotment): string; sha256(bytes: Uint8Array): Digest },
): ComposedImage {
  const sorted = [...allotments].sort(compareCells);
  sorted.forEach((a, i) => {
    const next = sorted[i + 1];
    if (next && compareCells(a, next) === 0) throw new FieldFormatError(`two allotments at cell (${a.row}, ${a.col})`);
    if (!Number.isInteger(a.row) || !Number.isInteger(a.col) || a.row < 0 || a.col < 0 || a.row > MAX_FIELD_INDEX || a.col > MAX_FIELD_INDEX) {
      throw new FieldFormatError(`allotment cell (${a.row}, ${a.col}) is out of range 0..${MAX_FIELD_INDEX}`);
    }
    parseDigest(a.diffId);
  });
  const baseManifest = base.manifest ? toOciManifest(base.manifest) : undefined;
  const baseLayers = (baseManifest?.layers ?? []).map(withoutCoordinates);
  if (base.config.rootfs.diff_ids.length !== baseLayers.length) {
    throw new FieldFormatError(
      `base config lists ${base.config.rootfs.diff_ids.length} diff_ids but the base has ${baseLayers.length} layers`,
    );
  }

  const history: HistoryEntry[] = paddedBaseHistory(base.config, baseLayers.length);
  // A base that is itself a field ends its history with allotment entries; the marker keeps
  // readHistoryLayout from counting them as this field's.
  if (allotmentCellsFromHistory(history, MAX_FIELD_INDEX).length > 0) {
    history.push({ created: opts.created, created_by: "2dfs field", comment: FIELD_START_HISTORY_COMMENT, empty_layer: true });
  }
  for (const a of sorted) history.push({ created: opts.created, created_by: opts.describe(a), comment: ALLOTMENT_HISTORY_COMMENT });
  const config: ImageConfig = {
    ...base.config,
    rootfs: { ...base.config.rootfs, diff_ids: [...base.config.rootfs.diff_ids, ...sorted.map((a) => a.diffId)] },
    history,
  };
  const configBytes = toJsonBytes(config);
  const configDescriptor: Descriptor = {
    ...(baseManifest?.config ?? {}),
    mediaType: MediaType.ociConfig,
    digest: opts.sha256(configBytes),
    size: configBytes.byteLength,
  };
  const layers = [...baseLayers, ...sorted.map(toAllotmentLayer)];
  const annotations = {
    ...baseManifest?.annotations,
    [Annotation.tdfsVersion]: TDFS_FORMAT_VERSION,
    [Annotation.tdfsCells]: toCellsAnnotation(sorted),
  };
  const manifest: ImageManifest = baseManifest
    ? { ...baseManifest, config: configDescriptor, layers, annotations }
    : { schemaVersion: 2, mediaType: MediaType.ociManifest, config: configDescriptor, layers, annotations };
  return { manifest, manifestBytes: toJsonBytes(manifest), config, configBytes, configDescriptor };
}

/** The allotment's layer descriptor with its coordinates as annotations. */
export function toAllotmentLayer(a: Allotment): Descriptor {
  return {
    ...a.layer,
    annotations: { ...a.layer.annotations, [Annotation.tdfsRow]: String(a.row), [Annotation.tdfsCol]: String(a.col) },
  };
}

function withoutCoordinates(layer: Descriptor): Descriptor {
  if (!isAllotmentLayer(layer)) return layer;
  const { [Annotation.tdfsRow]: _row, [Annotation.tdfsCol]: _col, ...rest } = layer.annotations!;
  const { annotations: _annotations, ...descriptor } = layer;
  return Object.keys(rest).length > 0 ? { ...layer, annotations: rest } : (descriptor as Descriptor);
}
