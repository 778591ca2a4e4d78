/**
 * 2dfs's own field format: every allotment is an ordinary layer after the base layers, in
 * row-major order, carrying its cell as descriptor annotations; the manifest is marked with the
 * format version. Every blob is referenced the standard way, so copies and GC keep it.
 */
import { Annotation, TDFS_FORMAT_VERSION } from "../oci/annotations.ts";
import type { HistoryEntry, ImageConfig } from "../oci/config.ts";
import type { Descriptor } from "../oci/descriptor.ts";
import { type Digest, parseDigest } from "../oci/digest.ts";
import type { ImageManifest } from "../oci/manifest.ts";
import { MediaType } from "../oci/media-types.ts";
import { MAX_FIELD_INDEX } from "../oci/partition-suffix.ts";
import { type Allotment, FieldFormatError, compareCells, toJsonBytes } from "./field.ts";
import { paddedBaseHistory } from "./layer-history.ts";
import { toOciManifest } from "./oci-conversion.ts";

/** The comment on the history entry of every allotment layer. */
export const ALLOTMENT_HISTORY_COMMENT = "2dfs allotment";

/** True when the manifest carries the 2DFS native-format marker. */
export function isNativeField(manifest: ImageManifest): boolean {
  return typeof manifest.annotations?.[Annotation.tdfsVersion] === "string";
}

/** True when a layer descriptor carries allotment coordinates. */
export function isAllotmentLayer(layer: Descriptor): boolean {
  const a = layer.annotations;
  return a !== undefined && (Annotation.tdfsRow in a || Annotation.tdfsCol in a);
}

/** A native field as the manifest alone describes it: where allotments start and each one's cell and layer. */
export interface NativeLayout {
  baseLayerCount: number;
  cells: { row: number; col: number; layer: Descriptor }[];
}

/** Reads and validates the field of a native 2DFS manifest (without its config). */
export function readNativeLayout(manifest: ImageManifest): NativeLayout {
  const version = manifest.annotations?.[Annotation.tdfsVersion];
  if (version === undefined) throw new FieldFormatError(`manifest has no ${Annotation.tdfsVersion} annotation: not a 2DFS field`);
  if (version !== TDFS_FORMAT_VERSION) {
    throw new FieldFormatError(`unsupported 2DFS field format version "${version}" (this 2dfs reads version ${TDFS_FORMAT_VERSION})`);
  }
  const listed = readCells(manifest);
  const baseLayerCount = manifest.layers.findIndex(isAllotmentLayer);
  const firstAllotment =
    baseLayerCount >= 0 ? baseLayerCount : listed ? manifest.layers.length - listed.length : manifest.layers.length;
  if (firstAllotment < 0) {
    throw new FieldFormatError(`${Annotation.tdfsCells} lists ${listed!.length} cells but the manifest has ${manifest.layers.length} layers`);
  }
  const cells: NativeLayout["cells"] = [];
  for (let i = firstAllotment; i < manifest.layers.length; i++) {
    const layer = manifest.layers[i]!;
    let row: number;
    let col: number;
    if (isAllotmentLayer(layer)) {
      row = parseCoordinate(layer.annotations![Annotation.tdfsRow], Annotation.tdfsRow, i);
      col = parseCoordinate(layer.annotations![Annotation.tdfsCol], Annotation.tdfsCol, i);
    } else if (listed && baseLayerCount < 0) {
      ({ row, col } = listed[i - firstAllotment]!);
    } else {
      throw new FieldFormatError(`layers[${i}] has no allotment coordinates but follows allotment layers`);
    }
    const cell = { row, col, layer };
    const previous = cells[cells.length - 1];
    if (previous) {
      const order = compareCells(previous, cell);
      if (order === 0) throw new FieldFormatError(`layers[${i}]: cell (${row}, ${col}) appears twice`);
      if (order > 0) {
        throw new FieldFormatError(
          `layers[${i}]: cell (${row}, ${col}) comes after (${previous.row}, ${previous.col}); allotments must be in row-major order`,
        );
      }
    }
    cells.push(cell);
  }
  return { baseLayerCount: firstAllotment, cells };
}

/** Reads and validates the field of a native 2DFS manifest and its config. */
export function readNativeField(manifest: ImageManifest, config: ImageConfig): { baseLayerCount: number; allotments: Allotment[] } {
  const { baseLayerCount, cells } = readNativeLayout(manifest);
  const diffIds = config.rootfs.diff_ids;
  if (diffIds.length !== manifest.layers.length) {
    throw new FieldFormatError(
      `config lists ${diffIds.length} diff_ids but the manifest has ${manifest.layers.length} layers`,
    );
  }
  return { baseLayerCount, allotments: cells.map((c, i) => ({ ...c, diffId: diffIds[baseLayerCount + i]! })) };
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
 * each allotment's history entry lines up with its layer.
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
