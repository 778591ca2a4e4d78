/** Hashes one file on the current thread with read-ahead, in bounded memory. */
import { open } from "node:fs/promises";
import type { Digest } from "../oci/digest.ts";
import { createSha256, type HashEngine } from "./sha256.ts";
import { CHUNK_SIZE, releaseChunk, takeChunk } from "./read-chunks.ts";

/** The digest and size of the file at `path`, read once in large chunks (the next chunk is read while one is hashed). */
export async function hashFile(path: string, engine?: HashEngine): Promise<{ digest: Digest; size: number }> {
  const hasher = await createSha256(engine);
  const fh = await open(path, "r");
  const buffers = [takeChunk(), takeChunk()];
  let pending: Promise<unknown> = Promise.resolve();
  try {
    let size = 0;
    let which = 0;
    let next = fh.read(buffers[0]!, 0, CHUNK_SIZE, 0);
    pending = next;
    for (;;) {
      const { bytesRead } = await next;
      if (bytesRead === 0) break;
      const buf = buffers[which]!;
      size += bytesRead;
      which ^= 1;
      next = fh.read(buffers[which]!, 0, CHUNK_SIZE, size);
      pending = next;
      hasher.update(buf.subarray(0, bytesRead));
    }
    return { digest: hasher.digest(), size };
  } finally {
    await pending.catch(() => {}); // a read-ahead may still be filling a buffer
    await fh.close();
    buffers.forEach(releaseChunk);
  }
}
