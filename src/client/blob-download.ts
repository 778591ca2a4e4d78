/**
 * Downloads a blob from a registry into the local store: the body is appended to a kept partial
 * file (so a dropped connection, or a later run, resumes with a Range request), the file is
 * hashed once complete, and it is committed under its digest only when every byte matched.
 */
import { closeSync, mkdirSync, openSync, statSync } from "node:fs";
import { rm, truncate } from "node:fs/promises";
import { join } from "node:path";
import type { LayoutStore } from "../content/layout-store.ts";
import type { Digest } from "../oci/digest.ts";
import { digestHex, parseDigest } from "../oci/digest.ts";
import { hashFile } from "../hash/hash-file.ts";
import { type Sha256, createNativeSha256 } from "../hash/sha256.ts";
import { writeFully } from "../util/copy-file-range.ts";
import { SocketError } from "../util/tcp-socket.ts";
import { DigestMismatchError, RegistryResponseError, toResponseError } from "./errors.ts";
import { type RegistryClient, pullScope } from "./registry-client.ts";
import { retryDelay } from "./retry.ts";
import { type SocketResponse, socketGet } from "./socket-http-get.ts";
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
  mkdirSync(join(path, ".."), { recursive: true });
  closeSync(openSync(path, "a")); // the partial file exists from here on (an empty blob has nothing else to create it)
  let offset = statSync(path).size;
  if (blob.size !== undefined && offset > blob.size) {
    await truncate(path, 0);
    offset = 0;
  }
  observer.start(digest, blob.size, offset);
  (globalThis as any).__m?.("dl start "+digest.slice(7,15));
  const where = `blob ${client.registry}/${repo}@${digest}`;

  // The running hash covers bytes [0, offset) of the partial file while every one of them came
  // through a socket-read body; otherwise the finished file is hashed.
  let running: Sha256 | undefined = offset === 0 ? createNativeSha256() : undefined;
  let failures = 0;
  for (;;) {
    if (blob.size !== undefined && offset === blob.size) break;
    const res = await openBlob(client, repo, digest, offset);
    (globalThis as any).__m?.("dl headers "+digest.slice(7,15));
    if (res.status === 416 && offset > 0) {
      // The server cannot continue from here (e.g. our partial file is stale): start over.
      await res.cancel();
      offset = await restart(path);
      running = createNativeSha256();
      continue;
    }
    if (!res.ok) throw await res.error(where);
    if (res.status === 206) {
      const start = /^bytes (\d+)-/.exec(res.headers.get("content-range") ?? "")?.[1];
      if (Number(start) !== offset) {
        await res.cancel();
        offset = await restart(path);
        running = createNativeSha256();
        continue;
      }
    } else if (offset > 0) {
      // A 200 answer to a Range request sends the whole blob again.
      offset = await restart(path);
      running = createNativeSha256();
    }
    const announced = contentLength(res.headers);
    if (blob.size !== undefined && announced !== undefined && offset + announced > blob.size) {
      await res.cancel();
      await rm(path, { force: true });
      throw new DigestMismatchError(`${where}: the registry announces ${offset + announced} bytes, more than the expected ${blob.size}`);
    }
    const limit = blob.size ?? (announced === undefined ? undefined : offset + announced);
    if (res.via === "fetch") running = undefined;
    let streamError: unknown;
    try {
      await withProgress(path, offset, observer.live === true, (bytes) => observer.advance(digest, bytes), () =>
        res.writeBody(path, offset, limit === undefined ? Infinity : limit - offset, running),
      );
    } catch (error) {
      if (res.via === "socket" && !(error instanceof SocketError) && !(error instanceof DigestMismatchError)) throw error; // e.g. a full disk
      streamError = error;
    }
    offset = statSync(path).size;
    (globalThis as any).__m?.("dl body "+digest.slice(7,15));
    if (streamError instanceof DigestMismatchError) {
      await rm(path, { force: true });
      throw new DigestMismatchError(`${where}: ${streamError.message}`);
    }
    const short = limit !== undefined && offset < limit;
    if (streamError === undefined && !short) break;
    // What a dropped socket left written was hashed piece by piece, so the running hash still
    // matches the file; after a fetch body the file is hashed at the end anyway.
    failures++;
    if (failures > client.retry.retries) {
      throw new RegistryResponseError(`${where}: the connection dropped after ${offset} bytes, ${failures} times; run the command again to resume`, 0);
    }
    await Bun.sleep(retryDelay(client.retry, failures));
  }
  // Without a running hash, the finished file is hashed (page cache, one reused buffer), which
  // costs far less than hashing a fetch body as it streams through JavaScript: see appendBody.
  const actual = running?.digest() ?? (await hashFile(path)).digest;
  if (actual !== digest) {
    await rm(path, { force: true });
    throw new DigestMismatchError(`${where}: the content received hashes to ${actual}`);
  }
  await store.commitBlob(path, digest);
  (globalThis as any).__m?.("dl committed "+digest.slice(7,15));
  observer.done(digest, "downloaded", offset);
  return "downloaded";
}

/** A blob GET's answer, received through fetch or through 2dfs's own socket. */
interface BlobAnswer {
  via: "fetch" | "socket";
  status: number;
  ok: boolean;
  headers: Headers;
  cancel(): Promise<void>;
  /** The error to report for an unsuccessful answer. */
  error(where: string): Promise<Error>;
  /** Appends the body to `path` (which holds `offset` bytes), failing past `room` bytes; a socket body also feeds `hasher`. */
  writeBody(path: string, offset: number, room: number, hasher: Sha256 | undefined): Promise<void>;
}

/** How long a socket download may wait for its next bytes. */
const SOCKET_TIMEOUT_MS = 60_000;

/**
 * GETs a blob from `offset`: over 2dfs's own socket when the registry allows (plain HTTP by IPv4
 * address), through the registry client's fetch otherwise. An answer on the socket other than a
 * success is asked again through fetch, which follows redirects, answers auth challenges and
 * retries server errors; a redirect also sends the client's later blobs through fetch.
 */
async function openBlob(client: RegistryClient, repo: string, digest: Digest, offset: number): Promise<BlobAnswer> {
  const path = `/v2/${repo}/blobs/${digest}`;
  const scopes = [pullScope(repo)];
  const range: Record<string, string> = offset > 0 ? { Range: `bytes=${offset}-` } : {};
  const target = client.socketTarget;
  if (target !== undefined) {
    const authorization = client.authorization(scopes);
    const headers = { ...range, ...(authorization ? { Authorization: authorization } : {}) };
    const answer = await socketGet(target, path, headers, SOCKET_TIMEOUT_MS).catch((error) => {
      if (error instanceof SocketError) return null; // fetch tries again, with its retries and messages
      throw error;
    });
    if (answer === undefined) {
      client.useFetchForBlobs(); // this process cannot drive its own sockets (no glibc)
    } else if (answer === null) {
      // fall through to fetch
    } else if (answer.status === 200 || answer.status === 206) {
      return {
        via: "socket",
        status: answer.status,
        ok: true,
        headers: answer.headers,
        cancel: async () => answer.close(),
        error: async () => new Error("unreachable: a successful answer"),
        writeBody: (file, _offset, room, hasher) => socketBodyToFile(answer, file, room, hasher),
      };
    } else {
      answer.close();
      if (answer.status >= 300 && answer.status < 400) client.useFetchForBlobs();
    }
  }
  const res = await client.request(path, { scopes, headers: range });
  return {
    via: "fetch",
    status: res.status,
    ok: res.ok,
    headers: res.headers,
    cancel: async () => void (await res.body?.cancel().catch(() => {})),
    error: (where) => toResponseError(res, where),
    writeBody: (file, at, room) => appendBody(file, at, res, room),
  };
}

/** Writes a socket-read body to the end of `path`, hashing each piece before it is written. */
async function socketBodyToFile(answer: SocketResponse, path: string, room: number, hasher: Sha256 | undefined): Promise<void> {
  const fd = openSync(path, "a");
  let received = 0;
  try {
    await answer.readBody((piece) => {
      received += piece.length;
      if (received > room) throw new DigestMismatchError("the registry sent more than the expected size");
      hasher?.update(piece);
      writeFully(fd, piece);
    });
  } finally {
    closeSync(fd);
    answer.close();
  }
}

/** Reports progress from the partial file's size while `write` runs, when the observer wants it live. */
async function withProgress(path: string, offset: number, live: boolean, advance: (bytes: number) => void, write: () => Promise<void>): Promise<void> {
  let reported = offset;
  const report = () => {
    const size = statSync(path, { throwIfNoEntry: false })?.size ?? 0;
    if (size > reported) advance(size - reported);
    reported = size;
  };
  const timer = live ? setInterval(report, PROGRESS_INTERVAL_MS) : undefined;
  try {
    await write();
  } finally {
    clearInterval(timer);
    report();
  }
}

function contentLength(headers: Headers): number | undefined {
  const value = headers.get("content-length");
  return value !== null && /^\d+$/.test(value) ? Number(value) : undefined;
}

async function restart(path: string): Promise<number> {
  await rm(path, { force: true });
  return 0;
}

/**
 * Appends a fetch body to `path` (which holds `offset` bytes), failing past `room` bytes. A fresh
 * download whose length the server announced is written by Bun natively (`Bun.write` of the
 * Response to the path): from the distribution registry, 28% faster than iterating the body's
 * chunks in JavaScript, where every chunk is fresh memory (bench/transfer.ts). A resumed
 * download, or a body without Content-Length, is streamed in JavaScript: it appends, and it
 * enforces the limit as bytes arrive. (Bun 1.4.5's `Bun.write` to an O_APPEND descriptor writes
 * small bodies twice, so the native path is only used to create the file.)
 */
async function appendBody(path: string, offset: number, res: Response, room: number): Promise<void> {
  if (offset === 0 && (room === Infinity || contentLength(res.headers) !== undefined)) await Bun.write(path, res);
  else await streamBody(path, res, room);
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
