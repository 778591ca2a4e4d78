/**
 * An uncompressed layer (what `auto` picks for weights and other incompressible data) written
 * by the kernel: tar headers and padding from here, every file body copied with
 * copy_file_range, then the finished file hashed once from the page cache. Nothing large passes
 * through JavaScript memory, and the digest is computed over the very bytes stored, so a source
 * edited during the build can give a layer with mixed content, never one that does not match
 * its digest.
 */
import { closeSync, fstatSync, openSync, rmSync } from "node:fs";
import type { TarEntry } from "../archive/tar-entries.ts";
import { TAR_END, tarHeader, tarPadding } from "../archive/tar-header.ts";
import { copyAll, writeFully } from "../util/copy-file-range.ts";
import { hashFile } from "./hash-file.ts";
import { checkSourceSize, SourceChangedError } from "./read-chunks.ts";
import type { HashEngine } from "./sha256.ts";
import type { WriteLayerJob, WriteLayerResult } from "./layer-job.ts";

/** Writes `job` (whose compression must be "none") by kernel copies; partial output is removed on failure. */
export async function copyLayer(job: WriteLayerJob, engine?: HashEngine): Promise<WriteLayerResult> {
  // A fresh file, not a truncated one: ext4 flushes a truncated-and-rewritten file on close (auto_da_alloc).
  rmSync(job.outPath, { force: true });
  const out = openSync(job.outPath, "w");
  try {
    try {
      for (const entry of job.entries) {
        writeFully(out, tarHeader(entry));
        if (entry.type === "file" && entry.size > 0) {
          await copyBody(entry, out);
          writeFully(out, tarPadding(entry.size));
        }
      }
      writeFully(out, TAR_END);
    } finally {
      closeSync(out);
    }
    const { digest, size } = await hashFile(job.outPath, engine);
    return { diffId: digest, digest, size, tarSize: size, compression: "none" };
  } catch (error) {
    rmSync(job.outPath, { force: true });
    throw error;
  }
}

/** Appends one source file's bytes to `out`, checking its size did not change. */
async function copyBody(entry: TarEntry, out: number): Promise<void> {
  if (!entry.src) throw new SourceChangedError(`tar entry "${entry.path}" has no source file`);
  const src = openSync(entry.src, "r");
  try {
    checkSourceSize(entry, fstatSync(src).size, "planned");
    const copied = await copyAll(src, out, entry.size);
    if (copied < entry.size) throw new SourceChangedError(`source "${entry.src}" shrank while it was read`);
    checkSourceSize(entry, fstatSync(src).size, "read");
  } finally {
    closeSync(src);
  }
}
