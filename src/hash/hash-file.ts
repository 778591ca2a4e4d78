/** Hashes one file on the current thread, in bounded memory. */
import { closeSync, openSync, readSync } from "node:fs";
import type { Digest } from "../oci/digest.ts";
import { createSha256, type HashEngine } from "./sha256.ts";
import { YIELD_EVERY_BYTES, yieldToEventLoop } from "../util/yield-to-event-loop.ts";

/**
 * Read size. The data is hashed while it is still in the CPU's L2 cache, and one small buffer
 * is cheap to touch the first time (slow on these VMs, see read-chunks.ts). Measured on 100 MB
 * in the page cache: synchronous 256 KiB reads 70 ms; the earlier double-buffered 2 MiB
 * asynchronous reads 73 ms warm, 107 ms with fresh buffers, and 240 ms for 4 files at once.
 */
const READ_SIZE = 256 << 10;

// One buffer per thread is enough: each read is hashed before the next await.
const buffer = new Uint8Array(READ_SIZE);

/** The digest and size of the file at `path`. */
export async function hashFile(path: string, engine?: HashEngine): Promise<{ digest: Digest; size: number }> {
  const hasher = await createSha256(engine);
  const size = await updateFromFile(hasher, path, 0);
  return { digest: hasher.digest(), size };
}

/** Feeds bytes [start, end) of the file at `path` (to its end when `end` is undefined) to `hasher`; returns the bytes read. */
export async function updateFromFile(hasher: { update(bytes: Uint8Array): unknown }, path: string, start: number, end = Infinity): Promise<number> {
  const fd = openSync(path, "r");
  try {
    let at = start;
    let sinceYield = 0;
    while (at < end) {
      const n = readSync(fd, buffer, 0, Math.min(READ_SIZE, end - at), at);
      if (n === 0) break;
      hasher.update(buffer.subarray(0, n));
      at += n;
      sinceYield += n;
      if (sinceYield >= YIELD_EVERY_BYTES) {
        sinceYield = 0;
        await yieldToEventLoop();
      }
    }
    return at - start;
  } finally {
    closeSync(fd);
  }
}
