/**
 * The reference implementation's field: one JSON blob (media type `...2dfs.field`) appended as
 * the last layer of each platform manifest, listing every allotment by bare-hex digests.
 */
import type { ImageConfig } from "../oci/config.ts";
import type { Descriptor } from "../oci/descriptor.ts";
import { type Digest, parseDigest, toSha256Digest } from "../oci/digest.ts";
import { isObject, parseJsonBytes } from "../oci/json.ts";
import type { ImageManifest } from "../oci/manifest.ts";
import { MediaType } from "../oci/media-types.ts";
import { MAX_FIELD_INDEX } from "../oci/partition-suffix.ts";
import { FieldFormatError, compareCells, toJsonBytes } from "./field.ts";
import type { ComposedImage } from "./native-format.ts";
import { toOciManifest, toOciMediaType } from "./oci-conversion.ts";

/** The largest field blob 2dfs reads: about 170 bytes per allotment, so room for some 100,000 allotments. */
export const MAX_FIELD_BLOB_BYTES = 16 * 1024 * 1024;

/** One allotment of a reference field; digests are full `sha256:` digests in memory. */
export interface ReferenceCell {
  row: number;
  col: number;
  digest: Digest;
  diffId: Digest;
}

const HEX64 = /^[0-9a-f]{64}$/;

/**
 * Parses a reference field blob into its allotments in row-major order, skipping placeholder
 * holes (empty digest). A cell's position is its place in the grid: row = index in `rows`,
 * col = index in that row's `allotments`. The reference builder fills padding with a stale
 * `col` value and can leave it on an allotment added later, so the stored `col` is not trusted;
 * the stored `row` is always right and is checked.
 */
export function parseReferenceField(bytes: Uint8Array): ReferenceCell[] {
  if (bytes.byteLength > MAX_FIELD_BLOB_BYTES) {
    throw new FieldFormatError(`2dfs field blob is ${bytes.byteLength} bytes, over the ${MAX_FIELD_BLOB_BYTES} byte limit`);
  }
  let doc: unknown;
  try {
    doc = parseJsonBytes(bytes, "2dfs field");
  } catch (cause) {
    throw new FieldFormatError((cause as Error).message, { cause });
  }
  if (!isObject(doc) || !Array.isArray(doc.rows)) throw new FieldFormatError('2dfs field: must be an object with a "rows" list');
  if (doc.rows.length > MAX_FIELD_INDEX + 1) throw new FieldFormatError(`2dfs field: more than ${MAX_FIELD_INDEX + 1} rows`);
  const cells: ReferenceCell[] = [];
  doc.rows.forEach((rowDoc, r) => {
    if (!isObject(rowDoc) || !Array.isArray(rowDoc.allotments)) {
      throw new FieldFormatError(`2dfs field rows[${r}]: must be an object with an "allotments" list`);
    }
    if (rowDoc.allotments.length > MAX_FIELD_INDEX + 1) {
      throw new FieldFormatError(`2dfs field rows[${r}]: more than ${MAX_FIELD_INDEX + 1} columns`);
    }
    rowDoc.allotments.forEach((a, c) => {
      const at = `2dfs field rows[${r}].allotments[${c}]`;
      if (!isObject(a)) throw new FieldFormatError(`${at}: must be an object`);
      if (a.digest === "" || a.digest === undefined) return; // a placeholder hole
      if (typeof a.digest !== "string" || !HEX64.test(a.digest)) {
        throw new FieldFormatError(`${at}.digest: must be 64 lowercase hex characters (bare sha256, no prefix)`);
      }
      if (typeof a.diffid !== "string" || !HEX64.test(a.diffid)) {
        throw new FieldFormatError(`${at}.diffid: must be 64 lowercase hex characters (bare sha256, no prefix)`);
      }
      if (a.row !== undefined && a.row !== r) {
        throw new FieldFormatError(`${at}: says row ${JSON.stringify(a.row)} but is stored in row ${r}`);
      }
      cells.push({ row: r, col: c, digest: toSha256Digest(a.digest), diffId: toSha256Digest(a.diffid) });
    });
  });
  return cells;
}

/**
 * The reference blob for a set of cells: compact JSON with every row up to the highest, each
 * padded with placeholders up to its own highest column (placeholders carry their real column).
 */
export function toReferenceFieldBytes(cells: ReferenceCell[]): Uint8Array {
  const sorted = [...cells].sort(compareCells);
  const rowCount = sorted.length === 0 ? 0 : sorted[sorted.length - 1]!.row + 1;
  const rows = Array.from({ length: rowCount }, () => [] as { row: number; col: number; digest: string; diffid: string }[]);
  sorted.forEach((cell, i) => {
    const previous = sorted[i - 1];
    if (previous && compareCells(previous, cell) === 0) throw new FieldFormatError(`two cells at (${cell.row}, ${cell.col})`);
    if (!isIndex(cell.row) || !isIndex(cell.col)) throw new FieldFormatError(`cell (${cell.row}, ${cell.col}) is out of range 0..${MAX_FIELD_INDEX}`);
    const row = rows[cell.row]!;
    for (let c = row.length; c < cell.col; c++) row.push({ row: cell.row, col: c, digest: "", diffid: "" });
    row.push({ row: cell.row, col: cell.col, digest: sha256Hex(cell.digest), diffid: sha256Hex(cell.diffId) });
  });
  const doc = {
    rows: rows.map((allotments) => ({ allotments, allotments_size: allotments.length })),
    rows_size: rowCount,
    owner: "",
  };
  return toJsonBytes(doc);
}

function isIndex(n: number): boolean {
  return Number.isInteger(n) && n >= 0 && n <= MAX_FIELD_INDEX;
}

function sha256Hex(digest: Digest): string {
  const parsed = parseDigest(digest);
  if (parsed.algorithm !== "sha256") throw new FieldFormatError(`the reference field format stores sha256 only, got ${digest}`);
  return parsed.hex;
}

/** The index of the layer holding the reference field blob, or -1. */
export function findReferenceFieldLayer(manifest: ImageManifest): number {
  return manifest.layers.findIndex((l) => l.mediaType === MediaType.tdfsField);
}

/**
 * Appends a reference field layer to a base image (none = scratch). The base config is left
 * untouched: its descriptor is reused (so the stored blob stays byte-identical) when the base
 * manifest or `configDescriptor` gives one. `configBytes` are the given base bytes, else a compact
 * serialisation, which is what a scratch base must store. A Docker base becomes OCI, as the
 * reference does.
 */
export function composeReference(
  base: { manifest?: ImageManifest; config: ImageConfig; configDescriptor?: Descriptor; configBytes?: Uint8Array },
  field: Descriptor,
  opts: { sha256(bytes: Uint8Array): Digest },
): ComposedImage {
  if (base.manifest && findReferenceFieldLayer(base.manifest) >= 0) {
    throw new FieldFormatError("the base image already carries a 2dfs field layer; build on a partition of it instead");
  }
  const baseManifest = base.manifest ? toOciManifest(base.manifest) : undefined;
  const configBytes = base.configBytes ?? toJsonBytes(base.config);
  const given = base.configDescriptor ?? baseManifest?.config;
  const configDescriptor: Descriptor = given
    ? { ...given, mediaType: toOciMediaType(given.mediaType) }
    : { mediaType: MediaType.ociConfig, digest: opts.sha256(configBytes), size: configBytes.byteLength };
  const layers = [...(baseManifest?.layers ?? []), field];
  const manifest: ImageManifest = baseManifest
    ? { ...baseManifest, config: configDescriptor, layers }
    : { schemaVersion: 2, mediaType: MediaType.ociManifest, config: configDescriptor, layers };
  return { manifest, manifestBytes: toJsonBytes(manifest), config: base.config, configBytes, configDescriptor };
}
