/** What a layer write is asked and what it answers: shared by write-layer.ts and copy-layer.ts (its own file, so neither imports the other back). */
import type { Digest } from "../oci/digest.ts";
import type { TarEntry } from "../archive/tar-entries.ts";
import type { Compression } from "../archive/compress.ts";
import type { AutoDecision } from "../archive/auto-compression.ts";

/** What to write: tar entries (files carry `src`), how to store them, and where. */
export interface WriteLayerJob {
  entries: TarEntry[];
  compression: Compression | "auto";
  level?: number;
  /** `auto` only: the predicted saving (0-1) that makes compressing worth it (auto-compression.ts). */
  minSaving?: number;
  outPath: string;
}

/** Digests and sizes of a written layer: `diffId` covers the tar, `digest`/`size` the stored bytes. */
export interface WriteLayerResult {
  diffId: Digest;
  digest: Digest;
  size: number;
  tarSize: number;
  compression: Compression;
  /** What `auto` sampled and decided; absent when a codec was asked for. */
  auto?: AutoDecision;
}
