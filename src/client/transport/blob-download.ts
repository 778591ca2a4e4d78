/**
 * Downloads a blob from a registry into the local store: the body is appended to a partial file
 * of this process's own (kept, so a dropped connection, or a later run, resumes with a Range
 * request; see partial-downloads.ts for how concurrent pulls share a store), hashed as it
 * arrives on 2dfs's own socket or, after fetch, from the file once complete, and committed under
 * its digest only when every byte matched.
 */
import { closeSync, existsSync, openSync, statSync } from "node:fs";
import { rm, truncate } from "node:fs/promises";
import type { LayoutStore } from "../../content/layout-store.ts";
import type { Digest } from "../../oci/digest.ts";
import { parseDigest } from "../../oci/digest.ts";
import { hashFile } from "../../hash/hash-file.ts";
import { framingOf } from "../../util/http1-body.ts";
import { BodyTooLargeError, type ReceiveBodyJob, receiveBodyToFile } from "./receive-body.ts";
import { SocketError } from "../../util/tcp-socket.ts";
import { DigestMismatchError, RegistryResponseError, toResponseError } from "../errors.ts";
import { type RegistryClient, pullScope } from "./registry-client.ts";
import { retryDelay } from "./retry.ts";
import { claimPartial, type PartialClaim, waitForOtherDownloads } from "./partial-downloads.ts";
import { socketGet } from "./socket-http-get.ts";
import { type TransferObserver, silentObserver } from "../transfer-observer.ts";

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
  receiveBody: ReceiveBody = receiveBodyToFile,
): Promise<"downloaded" | "cached"> {
  const { digest } = blob;
  if (parseDigest(digest).algorithm !== "sha256") throw new DigestMismatchError(`blob ${digest}: only sha256 digests can be verified`);
  let claim: PartialClaim | undefined;
  for (let busy = false; claim === undefined; ) {
    if (await store.verifyBlob(digest, blob.size)) {
      observer.done(digest, "cached", blob.size ?? (await store.blobSize(digest)) ?? 0);
      return "cached";
    }
    claim = claimPartial(store, digest, busy);
    // Another process is downloading this blob: wait for it, then look again (it may have failed).
    if (claim === undefined) busy = (await waitForOtherDownloads(store, digest, () => existsSync(store.blobPath(digest)))) === "stalled";
  }
  try {
    return await downloadInto(claim, client, repo, blob, store, observer, receiveBody);
  } finally {
    claim.release();
  }
}

async function downloadInto(
  claim: PartialClaim,
  client: RegistryClient,
  repo: string,
  blob: BlobRef,
  store: LayoutStore,
  observer: TransferObserver,
  receiveBody: ReceiveBody,
): Promise<"downloaded"> {
  const { digest } = blob;
  const path = claim.path;
  let offset = claim.offset;
  if (blob.size !== undefined && offset > blob.size) {
    await truncate(path, 0);
    offset = 0;
  }
  observer.start(digest, blob.size, offset);
  const where = `blob ${client.registry}/${repo}@${digest}`;

  // A socket body read whole from offset 0 comes with its digest; otherwise the finished file is hashed.
  let known: Digest | undefined;
  let failures = 0;
  for (;;) {
    if (blob.size !== undefined && offset === blob.size) break;
    const res = await openBlob(client, repo, digest, offset, receiveBody);
    if (res.status === 416 && offset > 0) {
      // The server cannot continue from here (e.g. our partial file is stale): start over.
      await res.cancel();
      offset = await restart(path);
      continue;
    }
    if (!res.ok) throw await res.error(where);
    if (res.status === 206) {
      const start = /^bytes (\d+)-/.exec(res.headers.get("content-range") ?? "")?.[1];
      if (Number(start) !== offset) {
        await res.cancel();
        offset = await restart(path);
        continue;
      }
    } else if (offset > 0) {
      // A 200 answer to a Range request sends the whole blob again.
      offset = await restart(path);
    }
    const announced = contentLength(res.headers);
    if (blob.size !== undefined && announced !== undefined && offset + announced > blob.size) {
      await res.cancel();
      await rm(path, { force: true });
      throw new DigestMismatchError(`${where}: the registry announces ${offset + announced} bytes, more than the expected ${blob.size}`);
    }
    const limit = blob.size ?? (announced === undefined ? undefined : offset + announced);
    let streamError: unknown;
    try {
      const from = offset;
      const written = await withProgress(path, offset, observer.live === true, (bytes) => observer.advance(digest, bytes), () =>
        res.writeBody(path, from, limit === undefined ? Infinity : limit - from),
      );
      if (from === 0) known = written;
    } catch (error) {
      // (A body read on a worker thread comes back as an Error with the original's name.)
      const tooLarge = error instanceof BodyTooLargeError || (error as Error).name === "BodyTooLargeError";
      streamError = tooLarge ? new DigestMismatchError((error as Error).message) : error;
      const dropped = streamError instanceof SocketError || (streamError as Error).name === "SocketError";
      if (res.via === "socket" && !dropped && !(streamError instanceof DigestMismatchError)) throw error; // e.g. a full disk
    }
    offset = statSync(path).size;
    if (streamError instanceof DigestMismatchError) {
      await rm(path, { force: true });
      throw new DigestMismatchError(`${where}: ${streamError.message}`);
    }
    const short = limit !== undefined && offset < limit;
    if (streamError === undefined && !short) break;
    known = undefined; // a later attempt appends: the file is hashed at the end
    failures++;
    if (failures > client.retry.retries) {
      throw new RegistryResponseError(`${where}: the connection dropped after ${offset} bytes, ${failures} times; run the command again to resume`, 0);
    }
    await Bun.sleep(retryDelay(client.retry, failures));
  }
  // Otherwise the finished file is hashed (page cache, one reused buffer), which costs far less
  // than hashing a fetch body as it streams through JavaScript: see appendBody.
  const actual = known ?? (await hashFile(path)).digest;
  if (actual !== digest) {
    await rm(path, { force: true });
    throw new DigestMismatchError(`${where}: the content received hashes to ${actual}`);
  }
  await store.commitBlob(path, digest);
  observer.done(digest, "downloaded", offset);
  return "downloaded";
}

/** Reads a detached socket body into a file: `receiveBodyToFile` on this thread, or a worker pool's job. */
export type ReceiveBody = (job: ReceiveBodyJob) => Promise<{ digest: Digest; bytes: number }>;

/** A blob GET's answer, received through fetch or through 2dfs's own socket. */
interface BlobAnswer {
  via: "fetch" | "socket";
  status: number;
  ok: boolean;
  headers: Headers;
  cancel(): Promise<void>;
  /** The error to report for an unsuccessful answer. */
  error(where: string): Promise<Error>;
  /** Appends the body to `path` (which holds `offset` bytes), failing past `room` bytes; a socket body resolves to the digest of the bytes appended. */
  writeBody(path: string, offset: number, room: number): Promise<Digest | undefined>;
}

/** How long a socket download may wait for its next bytes. */
const SOCKET_TIMEOUT_MS = 60_000;

/**
 * GETs a blob from `offset`: over 2dfs's own socket when the registry allows (plain HTTP by IPv4
 * address), through the registry client's fetch otherwise. An answer on the socket other than a
 * success is asked again through fetch, which follows redirects, answers auth challenges and
 * retries server errors; a redirect also sends the client's later blobs through fetch.
 */
async function openBlob(client: RegistryClient, repo: string, digest: Digest, offset: number, receiveBody: ReceiveBody): Promise<BlobAnswer> {
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
      client.useFetchForBlobs(); // this process cannot drive its own sockets (no libc bound)
    } else if (answer === null) {
      // fall through to fetch
    } else if ((answer.status === 200 || answer.status === 206) && readableFraming(answer.headers)) {
      return {
        via: "socket",
        status: answer.status,
        ok: true,
        headers: answer.headers,
        cancel: async () => answer.close(),
        error: async () => new Error("unreachable: a successful answer"),
        writeBody: async (file, _offset, room) => (await receiveBody({ ...answer.detach(), path: file, room, timeoutMs: SOCKET_TIMEOUT_MS })).digest,
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
    writeBody: async (file, at, room) => void (await appendBody(file, at, res, room)),
  };
}

/** Whether a body so framed can be read over the socket (else fetch is asked; it knows other codings). */
function readableFraming(headers: Headers): boolean {
  try {
    framingOf(headers);
    return true;
  } catch {
    return false;
  }
}

/** Reports progress from the partial file's size while `write` runs, when the observer wants it live. */
async function withProgress<T>(path: string, offset: number, live: boolean, advance: (bytes: number) => void, write: () => Promise<T>): Promise<T> {
  let reported = offset;
  const report = () => {
    const size = statSync(path, { throwIfNoEntry: false })?.size ?? 0;
    if (size > reported) advance(size - reported);
    reported = size;
  };
  const timer = live ? setInterval(report, PROGRESS_INTERVAL_MS) : undefined;
  try {
    return await write();
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
