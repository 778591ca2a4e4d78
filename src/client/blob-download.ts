/**
 * Downloads a blob from a registry into the local store: the body is appended to a kept partial
 * file (so a dropped connection, or a later run, resumes with a Range request), the file is
 * hashed once complete, and it is committed under its digest only when every byte matched.
 */
import { closeSync, openSync, statSync } from "node:fs";
import { mkdir, rm, stat, truncate } from "node:fs/promises";
import { join } from "node:path";
import type { LayoutStore } from "../content/layout-store.ts";
import type { Digest } from "../oci/digest.ts";
import { digestHex, parseDigest } from "../oci/digest.ts";
import { hashFile } from "../hash/hash-file.ts";
import { DigestMismatchError, RegistryResponseError, toResponseError } from "./errors.ts";
import { type RegistryClient, pullScope } from "./registry-client.ts";
import { retryDelay } from "./retry.ts";
import { type TransferObserver, silentObserver } from "./transfer-observer.ts";

/** Where an interrupted download of `digest` is kept between attempts and runs. */
export function partialPath(store: LayoutStore, digest: Digest): string {
  return join(store.stateDir, "partial", digestHex(digest));
}

/** A blob to fetch: its digest and, when known, its size. */
export interface BlobRef {
  digest: Digest;
  size?: number;
}

/** How often a running download reports its progress (read from the partial file's size). */
const PROGRESS_INTERVAL_MS = 100;

/**
 * Ensures the store holds `blob`, downloading it from `repo` when missing. Returns
 * "cached" when the store had it already.
 */
export async function downloadBlobToStore(
  client: RegistryClient,
  repo: string,
  blob: BlobRef,
  store: LayoutStore,
  observer: TransferObserver = silentObserver,
): Promise<"downloaded" | "cached"> {
  const { digest } = blob;
  if (parseDigest(digest).algorithm !== "sha256") throw new DigestMismatchError(`blob ${digest}: only sha256 digests can be verified`);
  if (await store.hasBlob(digest)) {
    observer.done(digest, "cached", blob.size ?? (await store.blobSize(digest)) ?? 0);
    return "cached";
  }
  const path = partialPath(store, digest);
  await mkdir(join(path, ".."), { recursive: true });
  let offset = (await stat(path).catch(() => undefined))?.size ?? 0;
  if (blob.size !== undefined && offset > blob.size) {
    await truncate(path, 0);
    offset = 0;
  }
  observer.start(digest, blob.size, offset);
  const where = `blob ${client.registry}/${repo}@${digest}`;

  let failures = 0;
  for (;;) {
    if (blob.size !== undefined && offset === blob.size) break;
    const res = await client.request(`/v2/${repo}/blobs/${digest}`, {
      scopes: [pullScope(repo)],
      headers: offset > 0 ? { Range: `bytes=${offset}-` } : {},
    });
    if (res.status === 416 && offset > 0) {
      // The server cannot continue from here (e.g. our partial file is stale): start over.
      await res.body?.cancel().catch(() => {});
      offset = await restart(path);
      continue;
    }
    if (!res.ok) throw await toResponseError(res, where);
    if (res.status === 206) {
      const start = /^bytes (\d+)-/.exec(res.headers.get("content-range") ?? "")?.[1];
      if (Number(start) !== offset) {
        await res.body?.cancel().catch(() => {});
        offset = await restart(path);
        continue;
      }
    } else if (offset > 0) {
      // A 200 answer to a Range request sends the whole blob again.
      offset = await restart(path);
    }
    const announced = contentLength(res);
    if (blob.size !== undefined && announced !== undefined && offset + announced > blob.size) {
      await res.body?.cancel().catch(() => {});
      await rm(path, { force: true });
      throw new DigestMismatchError(`${where}: the registry announces ${offset + announced} bytes, more than the expected ${blob.size}`);
    }
    const limit = blob.size ?? (announced === undefined ? undefined : offset + announced);
    let streamError: unknown;
    try {
      await appendBody(path, offset, res, limit, observer.live === true, (bytes) => observer.advance(digest, bytes));
    } catch (error) {
      streamError = error;
    }
    offset = (await stat(path)).size;
    if (streamError instanceof DigestMismatchError) {
      await rm(path, { force: true });
      throw new DigestMismatchError(`${where}: ${streamError.message}`);
    }
    const short = limit !== undefined && offset < limit;
    if (streamError === undefined && !short) break;
    failures++;
    if (failures > client.retry.retries) {
      throw new RegistryResponseError(`${where}: the connection dropped after ${offset} bytes, ${failures} times; run the command again to resume`, 0);
    }
    await Bun.sleep(retryDelay(client.retry, failures));
  }
  // Hashing the finished file (page cache, reused buffers) costs far less CPU than hashing the
  // body as it streams through JavaScript: see appendBody.
  const actual = (await hashFile(path)).digest;
  if (actual !== digest) {
    await rm(path, { force: true });
    throw new DigestMismatchError(`${where}: the content received hashes to ${actual}`);
  }
  await store.commitBlob(path, digest);
  observer.done(digest, "downloaded", offset);
  return "downloaded";
}

function contentLength(res: Response): number | undefined {
  const value = res.headers.get("content-length");
  return value !== null && /^\d+$/.test(value) ? Number(value) : undefined;
}

async function restart(path: string): Promise<number> {
  await rm(path, { force: true });
  return 0;
}

/**
 * Appends a response body to `path` (which holds `offset` bytes), never past `limit` bytes of file.
 * A fresh download whose length the server announced is written by Bun natively (`Bun.write` of
 * the Response to the path): from the distribution registry, 28% faster than iterating the
 * body's chunks in JavaScript, where every chunk is fresh memory (bench/transfer.ts; README,
 * "Library choices"). A resumed
 * download, or a body without Content-Length, is streamed in JavaScript: it appends, and it
 * enforces the limit as bytes arrive. (Bun 1.4.5's `Bun.write` to an O_APPEND descriptor writes
 * small bodies twice, so the native path is only used to create the file.)
 * Live progress is read from the file's size.
 */
async function appendBody(
  path: string,
  offset: number,
  res: Response,
  limit: number | undefined,
  live: boolean,
  advance: (bytes: number) => void,
): Promise<void> {
  let reported = offset;
  const report = () => {
    const size = statSync(path, { throwIfNoEntry: false })?.size ?? 0;
    if (size > reported) advance(size - reported);
    reported = size;
  };
  const timer = live ? setInterval(report, PROGRESS_INTERVAL_MS) : undefined;
  try {
    if (offset === 0 && (limit === undefined || contentLength(res) !== undefined)) await Bun.write(path, res);
    else await streamBody(path, res, limit === undefined ? Infinity : limit - offset);
  } finally {
    clearInterval(timer);
    report();
  }
}

/** Streams a body to the end of `path`, failing as soon as it goes past `room` bytes. */
async function streamBody(path: string, res: Response, room: number): Promise<void> {
  const fd = openSync(path, "a");
  const out = Bun.file(fd).writer({ highWaterMark: 1 << 20 });
  let received = 0;
  try {
    for await (const chunk of res.body ?? new ReadableStream<Uint8Array>()) {
      received += chunk.byteLength;
      if (received > room) throw new DigestMismatchError("the registry sent more than the expected size");
      out.write(chunk);
    }
  } finally {
    // Flush what was received so the partial file ends where the next Range request continues.
    try {
      await out.end();
    } finally {
      closeSync(fd);
    }
  }
}
