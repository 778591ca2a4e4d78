/**
 * Blob upload sessions. A session is two objects in storage, the bytes received so far
 * and a small state document (the acknowledged offset), rewritten after every chunk: a
 * restarted server, or another one on the same storage, continues where the last
 * acknowledged chunk ended. Bytes move into the blob store only once verified.
 *
 * Hashing: each chunk is hashed from storage right after it is stored, with the native SHA-256
 * (about 7x the speed of hash-wasm, whose resumable state would cap pushes near 200 MB/s, and
 * whose hasher costs ~2 ms to create), on the server's hashing thread when it has one. The
 * running hash stays in memory between chunks; a process or thread that does not hold it
 * (after a restart, or another instance) re-hashes the acknowledged bytes once from storage.
 *
 * On a store that is not a local file system (S3, shared by stateless replicas; and memory), the
 * bytes are hashed as they stream into storage, with hash-wasm, whose state is saved in the
 * session's state document after each chunk (hash/session-state.ts): the instance that takes
 * the next chunk, or the commit, restores it, and never reads back the bytes already uploaded.
 */
import { type Digest, DigestError, parseDigest } from "../../oci/digest.ts";
import { type SessionHashes, createSessionHashes } from "../../hash/session-hashes.ts";
import { hashingStream, restoreSha256, saveSha256State } from "../../hash/session-state.ts";
import { OciError } from "../../oci/errors.ts";
import type { StorageDriver } from "../driver/driver.ts";
import { StorageFullError } from "../driver/storage-full.ts";
import { createKeyedLock } from "../storage/keyed-lock.ts";
import { blobDataPath, uploadDir } from "../storage/paths.ts";
import type { BlobService } from "./blobs.ts";

/** What a client learns about a session. */
export interface UploadStatus {
  id: string;
  /** Bytes received and acknowledged so far. */
  offset: number;
}

/** A chunk's declared place: `Content-Range` (inclusive end) and `Content-Length`. */
export interface ChunkInfo {
  range?: { start: number; end: number };
  length?: number;
}

interface SessionState {
  offset: number;
  started: string;
  /** hash-wasm's saved SHA-256 state after `offset` bytes (stores without local files only). */
  sha256?: string;
}

/** The upload operations. */
export interface UploadService {
  start(name: string): Promise<UploadStatus>;
  status(name: string, id: string): Promise<UploadStatus>;
  append(name: string, id: string, body: ReadableStream<Uint8Array> | null, chunk: ChunkInfo): Promise<UploadStatus>;
  /** Appends an optional last chunk, verifies `digest` and moves the bytes into the blob store. */
  finish(name: string, id: string, digest: string | null, body: ReadableStream<Uint8Array> | null, chunk: ChunkInfo): Promise<Digest>;
  cancel(name: string, id: string): Promise<void>;
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

/** Creates the upload service. */
export function createUploadService(driver: StorageDriver, blobs: BlobService, opts: { hashThread?: SessionHashes } = {}): UploadService {
  // Chunks of one session are applied one at a time (a client may pipeline requests).
  const locked = createKeyedLock();

  // A store without local files may be shared by replicas: the hash state lives in the store
  // (hash/session-state.ts), and there are no running hashes in this process.
  const hashes = sessionHashesFor(driver, opts.hashThread);
  const keyOf = (name: string, id: string) => `${name}\0${id}`;

  const paths = (name: string, id: string) => {
    const dir = uploadDir(name, id);
    return { dir, data: `${dir}/data`, state: `${dir}/state` };
  };

  const load = async (name: string, id: string): Promise<SessionState> => {
    if (!UUID.test(id)) throw new OciError("BLOB_UPLOAD_UNKNOWN", `"${id}" is not an upload session id`);
    const bytes = await driver.read(paths(name, id).state);
    if (!bytes) throw new OciError("BLOB_UPLOAD_UNKNOWN", `no upload session ${id} in ${name}`);
    return JSON.parse(new TextDecoder().decode(bytes)) as SessionState;
  };

  const save = (name: string, id: string, state: SessionState) =>
    driver.write(paths(name, id).state, new TextEncoder().encode(JSON.stringify(state)));

  // The running SHA-256 of a session on a store without local files, from its saved state.
  const savedHash = (data: string, state: SessionState) => restoreSha256(state.sha256, state.offset, () => driver.reader(data, 0, state.offset));

  // Appends one chunk while hashing it; on any failure the data is cut back to the old offset.
  const appendChunk = async (name: string, id: string, state: SessionState, body: ReadableStream<Uint8Array> | null, chunk: ChunkInfo): Promise<SessionState> => {
    const p = paths(name, id);
    if (chunk.range && chunk.range.start !== state.offset) {
      throw new OciError("RANGE_INVALID", `chunk starts at ${chunk.range.start} but the upload has ${state.offset} bytes; send the range starting at ${state.offset}`);
    }
    const expected = chunk.range ? chunk.range.end - chunk.range.start + 1 : chunk.length;
    if (chunk.range && chunk.length !== undefined && chunk.length !== expected) {
      throw new OciError("SIZE_INVALID", `Content-Length ${chunk.length} does not match Content-Range ${chunk.range.start}-${chunk.range.end}`);
    }
    if (!body) {
      if (expected) throw new OciError("SIZE_INVALID", `expected ${expected} bytes of body, got none`);
      return state;
    }
    // A process that died during a chunk may have left unacknowledged bytes: drop them.
    await driver.truncate(p.data, state.offset);
    let received: number;
    let sha256 = state.sha256;
    try {
      // Without local files the body is hashed as it streams into storage. On a file system the
      // driver stores it as fast as it can (natively); the new bytes are then hashed from
      // storage, still in the page cache.
      const hasher = hashes ? undefined : await savedHash(p.data, state);
      const size = await driver.append(p.data, hasher ? hashingStream(body, hasher) : body);
      received = size - state.offset;
      if (expected !== undefined && received !== expected) {
        throw new OciError("SIZE_INVALID", `expected ${expected} bytes, received ${received}`);
      }
      if (hasher) sha256 = saveSha256State(hasher);
      else await hashes!.update(keyOf(name, id), p.data, state.offset, size);
    } catch (e) {
      await driver.truncate(p.data, state.offset);
      throw e;
    }
    const next: SessionState = { ...state, offset: state.offset + received, ...(sha256 !== undefined ? { sha256 } : {}) };
    await save(name, id, next);
    return next;
  };

  // On a full disk the session is dropped, to give its space back: the client stops (the
  // registry answers 507) rather than resume into a disk that is still full.
  const dropWhenFull = async <T>(name: string, id: string, fn: () => Promise<T>): Promise<T> => {
    try {
      return await fn();
    } catch (e) {
      if (e instanceof StorageFullError) {
        hashes?.drop(keyOf(name, id));
        await driver.delete(paths(name, id).dir);
        throw new StorageFullError(`${e.message}; upload ${id} was cancelled to free its space`, { cause: e });
      }
      throw e;
    }
  };

  return {
    start(name) {
      const id = crypto.randomUUID();
      return dropWhenFull(name, id, async () => {
        const p = paths(name, id);
        await driver.write(p.data, new Uint8Array(0));
        await save(name, id, { offset: 0, started: new Date().toISOString() });
        return { id, offset: 0 };
      });
    },
    async status(name, id) {
      const state = await load(name, id);
      return { id, offset: state.offset };
    },
    append(name, id, body, chunk) {
      return locked(`${name}\0${id}`, () =>
        dropWhenFull(name, id, async () => {
          const state = await appendChunk(name, id, await load(name, id), body, chunk);
          return { id, offset: state.offset };
        }),
      );
    },
    finish(name, id, digestText, body, chunk) {
      return locked(`${name}\0${id}`, () => dropWhenFull(name, id, async () => {
        let state = await load(name, id);
        if (!digestText) throw new OciError("DIGEST_INVALID", "the digest query parameter is required to complete an upload");
        let digest: Digest;
        try {
          digest = parseDigest(digestText).digest;
        } catch (e) {
          throw new OciError("DIGEST_INVALID", (e as DigestError).message);
        }
        state = await appendChunk(name, id, state, body, chunk);
        const p = paths(name, id);
        const { algorithm } = parseDigest(digest);
        const actual: Digest =
          algorithm !== "sha256"
            ? await rehash(driver, p.data, algorithm, state.offset)
            : hashes
              ? `sha256:${await hashes.digest(keyOf(name, id), p.data, state.offset)}`
              : (await savedHash(p.data, state)).digest();
        if (actual !== digest) {
          await driver.delete(p.dir);
          throw new OciError("DIGEST_INVALID", `upload content hashes to ${actual}, not ${digest}; the data was discarded`);
        }
        if (await blobs.statData(digest)) await driver.delete(p.data);
        else await driver.move(p.data, blobDataPath(digest));
        await blobs.link(name, digest);
        await driver.delete(p.dir);
        return digest;
      }));
    },
    async cancel(name, id) {
      await load(name, id);
      hashes?.drop(keyOf(name, id));
      await driver.delete(paths(name, id).dir);
    },
  };
}

/**
 * Running upload hashes over local files: on the hashing thread when the server runs one, else on
 * this thread; undefined for a driver without local files.
 */
function sessionHashesFor(driver: StorageDriver, thread: SessionHashes | undefined): SessionHashes | undefined {
  const file = driver.file?.bind(driver);
  if (!file) return undefined;
  const hashes = thread ?? createSessionHashes();
  const local = (path: string) => file(path)!.name!;
  return {
    update: (key, path, from, to) => hashes.update(key, local(path), from, to),
    digest: (key, path, size) => hashes.digest(key, local(path), size),
    drop: (key) => hashes.drop(key),
  };
}

// Algorithms other than sha256 (sha512) are rare: they re-read the data once at the end.
async function rehash(driver: StorageDriver, data: string, algorithm: "sha256" | "sha512", size: number): Promise<Digest> {
  const hasher = new Bun.CryptoHasher(algorithm);
  for await (const chunk of driver.reader(data, 0, size)) hasher.update(chunk);
  return `${algorithm}:${hasher.digest("hex")}`;
}
