/** Large-chunk buffers shared by the hashing jobs of one thread, and the error for sources that change under us. */

/** Read size: 8 MiB keeps the native hasher at full speed (small chunks cost ~30%, see perf-baseline.md). */
export const CHUNK_SIZE = 8 << 20;

/** Thrown when a source file's size differs from what was planned, or changes while it is read. */
export class SourceChangedError extends Error {
  override name = "SourceChangedError";
}

// Fresh 8 MiB buffers per job cut layer writes from ~1,000 to ~190 MB/s (zeroing, page faults, GC): reuse them.
const free: Uint8Array[] = [];
const MAX_FREE = 4;

/** Takes a CHUNK_SIZE buffer from this thread's free list (or allocates one); give it back with releaseChunk. */
export function takeChunk(): Uint8Array {
  return free.pop() ?? new Uint8Array(CHUNK_SIZE);
}

/** Returns a buffer from takeChunk for reuse; the caller must no longer touch it (no I/O may still be using it). */
export function releaseChunk(buf: Uint8Array): void {
  if (free.length < MAX_FREE && buf.length === CHUNK_SIZE) free.push(buf);
}
