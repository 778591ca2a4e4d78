/**
 * An upload's running SHA-256 kept in storage rather than in a process: hash-wasm's saved state
 * (~100 bytes, base64 in the session's state document) is rewritten after every chunk, so any
 * replica on the same store continues the hash where the last chunk ended, without reading back
 * the bytes already uploaded. bench/s3.ts measures what this costs per chunk.
 */
import { type ResumableSha256, createResumableSha256 } from "./sha256.ts";

/** The text to store for a hasher's current state. */
export function saveSha256State(hasher: ResumableSha256): string {
  return Buffer.from(hasher.save()).toString("base64");
}

/**
 * A hasher that has taken the upload's first `offset` bytes: from the saved state when there is
 * one, else (a session written before states were saved) by hashing those bytes once from `readBack`.
 */
export async function restoreSha256(saved: string | undefined, offset: number, readBack: () => AsyncIterable<Uint8Array>): Promise<ResumableSha256> {
  if (saved !== undefined) return createResumableSha256(new Uint8Array(Buffer.from(saved, "base64")));
  const hasher = await createResumableSha256();
  let n = 0;
  if (offset > 0) {
    for await (const chunk of readBack()) {
      hasher.update(chunk);
      n += chunk.byteLength;
    }
  }
  if (n !== offset) throw new Error(`upload data is ${n} bytes, not the ${offset} acknowledged`);
  return hasher;
}

/** A stream passing `body` through while `hasher` takes every byte of it. */
export function hashingStream(body: ReadableStream<Uint8Array>, hasher: ResumableSha256): ReadableStream<Uint8Array> {
  return body.pipeThrough(
    new TransformStream<Uint8Array, Uint8Array>({
      transform(chunk, controller) {
        hasher.update(chunk);
        controller.enqueue(chunk);
      },
    }),
  );
}
