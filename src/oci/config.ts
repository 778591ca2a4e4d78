/** Image configuration (OCI image spec config.md); everything but what 2dfs edits is opaque. */
import type { Digest } from "./digest.ts";
import { parseDigest } from "./digest.ts";
import { JsonShapeError, isObject, parseJsonBytes } from "./json.ts";

/** One history entry. */
export interface HistoryEntry {
  created?: string;
  created_by?: string;
  author?: string;
  comment?: string;
  empty_layer?: boolean;
  [extra: string]: unknown;
}

/** The image config; unknown fields are kept as they came. */
export interface ImageConfig {
  architecture: string;
  os: string;
  variant?: string;
  created?: string;
  config?: Record<string, unknown>;
  rootfs: { type: "layers"; diff_ids: Digest[]; [extra: string]: unknown };
  history?: HistoryEntry[];
  [extra: string]: unknown;
}

/** Parses and validates config bytes. */
export function parseImageConfig(bytes: Uint8Array): ImageConfig {
  const doc = parseJsonBytes(bytes, "image config");
  if (!isObject(doc)) throw new JsonShapeError("image config: must be a JSON object");
  if (typeof doc.architecture !== "string" || typeof doc.os !== "string") {
    throw new JsonShapeError('image config: must have string "architecture" and "os"');
  }
  const rootfs = doc.rootfs;
  if (!isObject(rootfs) || rootfs.type !== "layers" || !Array.isArray(rootfs.diff_ids)) {
    throw new JsonShapeError('image config.rootfs: must be {"type":"layers","diff_ids":[...]}');
  }
  rootfs.diff_ids.forEach((d, i) => {
    if (typeof d !== "string") throw new JsonShapeError(`image config.rootfs.diff_ids[${i}]: must be a string`);
    parseDigest(d);
  });
  if (doc.history !== undefined && !(Array.isArray(doc.history) && doc.history.every(isObject))) {
    throw new JsonShapeError("image config.history: must be a list of objects");
  }
  return doc as unknown as ImageConfig;
}

/** The history entries that describe a layer (not `empty_layer`), in order, with their indexes. */
export function layerHistoryIndexes(config: ImageConfig): number[] {
  const out: number[] = [];
  (config.history ?? []).forEach((h, i) => {
    if (!h.empty_layer) out.push(i);
  });
  return out;
}
