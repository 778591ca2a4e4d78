/**
 * Pull-through of one blob: the upstream body is teed, one branch to the first client and one
 * to a temp file hashed as it is written. The blob is committed into the store only when its
 * digest (and size) match; otherwise the client's stream is failed before its last chunk, so
 * it sees a broken transfer, and the temp file is deleted. Concurrent misses for one digest
 * share the fetch: late joiners wait for the commit and are then served from the store.
 */
import { type Digest, parseDigest } from "../../oci/digest.ts";
import type { StorageDriver } from "../driver/driver.ts";
import type { Metrics } from "../metrics.ts";
import { blobDataPath } from "../storage/paths.ts";

/** Why an upstream blob could not be cached. */
export class BlobFetchError extends Error {
  override name = "BlobFetchError";
  constructor(message: string, readonly notFound = false) {
    super(message);
  }
}

/** A running fetch: `committed` settles once the blob is in the store (or rejects). */
export interface BlobFetch {
  committed: Promise<number>;
}

/** The first requester's view: the upstream response headers and the client branch. */
export interface FirstServe {
  size: number;
  body: ReadableStream<Uint8Array>;
}

/**
 * Starts fetching `digest`, or joins the fetch already running. The first caller gets the body
 * to stream (`first`); joiners get undefined and wait on `committed`.
 */
export function createBlobFetcher(deps: {
  driver: StorageDriver;
  metrics: Metrics;
  log: (line: string) => void;
  /** Sends the upstream GET; must resolve to a 200 response or throw BlobFetchError. */
  open(name: string, digest: Digest): Promise<Response>;
  /** Called after the commit (link into `name`, record in the cache index). */
  commit(name: string, digest: Digest, size: number): Promise<void>;
}) {
  const { driver, metrics, log } = deps;
  const inFlight = new Map<Digest, { fetch: BlobFetch; first: Promise<FirstServe> }>();

  const start = (name: string, digest: Digest): { fetch: BlobFetch; first: Promise<FirstServe> } => {
    let resolveFirst!: (f: FirstServe) => void;
    let rejectFirst!: (e: unknown) => void;
    const first = new Promise<FirstServe>((res, rej) => {
      resolveFirst = res;
      rejectFirst = rej;
    });
    const committed = (async () => {
      let res: Response;
      try {
        res = await deps.open(name, digest);
      } catch (e) {
        rejectFirst(e);
        throw e;
      }
      const declared = Number(res.headers.get("content-length") ?? NaN);
      const size = Number.isFinite(declared) ? declared : -1;
      let ctl!: ReadableStreamDefaultController<Uint8Array>;
      let clientGone = false;
      let wake: (() => void) | undefined;
      const body = new ReadableStream<Uint8Array>(
        {
          start: (c) => void (ctl = c),
          pull: () => wake?.(),
          cancel: () => {
            clientGone = true;
            wake?.();
          },
        },
        { highWaterMark: 4 },
      );
      resolveFirst({ size, body });
      const temp = `_upstream/tmp/${crypto.randomUUID()}`;
      const hasher = new Bun.CryptoHasher(parseDigest(digest).algorithm);
      let received = 0;
      let held: Uint8Array | undefined;
      try {
        // Hold back one chunk: the client gets the last one only after the digest matched.
        for await (const chunk of res.body!) {
          hasher.update(chunk);
          await driver.append(temp, chunk);
          received += chunk.byteLength;
          metrics.fromUpstream(chunk.byteLength);
          if (clientGone) continue;
          if (held) ctl.enqueue(held);
          held = chunk;
          // Bounded memory: wait while the client is behind (a cancelled client stops nothing).
          while (!clientGone && (ctl.desiredSize ?? 1) <= 0) await new Promise<void>((r) => (wake = r));
        }
        const got = `${parseDigest(digest).algorithm}:${hasher.digest("hex")}`;
        if (got !== digest) throw new BlobFetchError(`upstream blob ${digest} failed verification: its content hashes to ${got}`);
        if (size >= 0 && received !== size) throw new BlobFetchError(`upstream blob ${digest} ended after ${received} of ${size} bytes`);
        if (received === 0) await driver.write(temp, new Uint8Array(0));
        await driver.move(temp, blobDataPath(digest));
        await deps.commit(name, digest, received);
        if (!clientGone) {
          if (held) ctl.enqueue(held);
          ctl.close();
        }
        return received;
      } catch (e) {
        await driver.delete(temp);
        const error = e instanceof BlobFetchError ? e : new BlobFetchError(`upstream blob ${digest}: ${(e as Error).message}`);
        log(`upstream: ${error.message}; nothing kept`);
        if (!clientGone) ctl.error(error);
        throw error;
      }
    })();
    // Joiners see the rejection; an unobserved one must not crash the process.
    committed.catch(() => {});
    return { fetch: { committed }, first };
  };

  return {
    /**
     * Joins or starts the fetch of `digest`. The caller that started it gets `first` (the
     * body to stream); every caller gets `committed`.
     */
    async serve(name: string, digest: Digest): Promise<{ first?: FirstServe; committed: Promise<number> }> {
      const running = inFlight.get(digest);
      if (running) return { committed: running.fetch.committed };
      const started = start(name, digest);
      inFlight.set(digest, started);
      void started.fetch.committed.finally(() => inFlight.delete(digest)).catch(() => {});
      return { first: await started.first, committed: started.fetch.committed };
    },
    /** Fetches into the store without a client (configs, field blobs, range requests). */
    async fetch(name: string, digest: Digest): Promise<void> {
      const { first, committed } = await this.serve(name, digest);
      if (first) void first.body.cancel();
      await committed;
    },
  };
}
