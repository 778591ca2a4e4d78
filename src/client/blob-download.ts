/**
 * Streams a blob from a registry into the local store: hashed while written, resumed with a
 * Range request from a kept partial file after a dropped connection (or a later run), and
 * committed under its digest only when every byte matched.
 */
import { closeSync, openSync } from "node:fs";
import { mkdir, rm, stat, truncate } from "node:fs/promises";
import { join } from "node:path";
import type { LayoutStore } from "../content/layout-store.ts";
import type { Digest } from "../oci/digest.ts";
import { digestHex, parseDigest } from "../oci/digest.ts";
import { type Sha256, createNativeSha256 } from "../hash/sha256.ts";
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
  let hasher = createNativeSha256();
  if (offset > 0) await hashFile(path, hasher);
  observer.start(digest, blob.size, offset);

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
      ({ offset, hasher } = await restart(path));
      continue;
    }
    if (!res.ok) throw await toResponseError(res, `blob ${client.registry}/${repo}@${digest}`);
    if (res.status === 206) {
      const start = /^bytes (\d+)-/.exec(res.headers.get("content-range") ?? "")?.[1];
      if (Number(start) !== offset) {
        await res.body?.cancel().catch(() => {});
        ({ offset, hasher } = await restart(path));
        continue;
      }
    } else if (offset > 0) {
      // A 200 answer to a Range request sends the whole blob again.
      ({ offset, hasher } = await restart(path));
    }
    // Bun's native file sink buffers in native memory and writes in large blocks: about twice
    // as fast as a node:fs write stream for the many small chunks a response body arrives in.
    const fd = openSync(path, offset > 0 ? "a" : "w");
    const out = Bun.file(fd).writer({ highWaterMark: 1 << 20 });
    let streamError: unknown;
    try {
      for await (const chunk of res.body ?? new ReadableStream<Uint8Array>()) {
        if (blob.size !== undefined && offset + chunk.byteLength > blob.size) {
          throw new DigestMismatchError(`blob ${digest}: the registry sent more than the expected ${blob.size} bytes`);
        }
        hasher.update(chunk);
        offset += chunk.byteLength;
        observer.advance(digest, chunk.byteLength);
        out.write(chunk);
      }
    } catch (error) {
      streamError = error;
    } finally {
      // Flush what was received so the partial file matches `offset` and the next Range continues it.
      try {
        await out.end();
      } finally {
        closeSync(fd);
      }
    }
    if (streamError instanceof DigestMismatchError) {
      await rm(path, { force: true });
      throw streamError;
    }
    const short = blob.size !== undefined && offset < blob.size;
    if (streamError === undefined && !short) break;
    failures++;
    if (failures > client.retry.retries) {
      throw new RegistryResponseError(
        `blob ${digest}: the connection dropped after ${offset} bytes, ${failures} times; run the command again to resume`,
        0,
      );
    }
    await Bun.sleep(retryDelay(client.retry, failures));
  }
  const actual = hasher.digest();
  if (actual !== digest) {
    await rm(path, { force: true });
    throw new DigestMismatchError(`blob ${client.registry}/${repo}@${digest}: the content received hashes to ${actual}`);
  }
  await store.commitBlob(path, digest);
  observer.done(digest, "downloaded", offset);
  return "downloaded";
}

async function restart(path: string): Promise<{ offset: number; hasher: Sha256 }> {
  await rm(path, { force: true });
  return { offset: 0, hasher: createNativeSha256() };
}

async function hashFile(path: string, hasher: Sha256): Promise<void> {
  for await (const chunk of Bun.file(path).stream()) hasher.update(chunk);
}
