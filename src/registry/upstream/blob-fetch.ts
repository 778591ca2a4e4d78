/**
 * Pull-through of one blob. The upstream body is written to a temp file and hashed as it
 * arrives, at the upstream's pace whatever the clients do; every client of the blob (the first
 * and any that join while it is fetched) follows the growing file. The last byte is held back
 * from followers until the digest and size matched and the file was moved into the store; on a
 * mismatch their streams fail (a broken transfer) and the temp file is deleted, so nothing is
 * kept. One upstream fetch per digest at a time.
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

/** A client's view of a fetch: the size upstream declared (-1 when it sent none) and a body that follows the fetch. */
export interface FollowedBlob {
  size: number;
  body: ReadableStream<Uint8Array>;
}

interface Running {
  /** The repository the fetch was started for (the one upstream confirmed). */
  name: string;
  /** Settles with the upstream response's declared size once the headers arrived. */
  opened: Promise<number>;
  /** Settles once the blob is in the store (or failed). */
  committed: Promise<number>;
  temp: string;
  received: number;
  moved: boolean;
  failed?: Error;
  changed(): Promise<void>;
}

// Followers read the temp file in pieces of at most this size.
const READ_CHUNK = 1 << 20;

/** Creates the single-flight fetcher. */
export function createBlobFetcher(deps: {
  driver: StorageDriver;
  metrics: Metrics;
  log: (line: string) => void;
  /** Sends the upstream GET; must resolve to a 200 response or throw BlobFetchError. */
  open(name: string, digest: Digest): Promise<Response>;
  /** Called after the blob was moved into the store (link into `name`, record in the cache index). */
  commit(name: string, digest: Digest, size: number): Promise<void>;
}) {
  const { driver, metrics, log } = deps;
  const inFlight = new Map<Digest, Running>();

  const start = (name: string, digest: Digest): Running => {
    let waiters: (() => void)[] = [];
    const notify = () => {
      const w = waiters;
      waiters = [];
      for (const r of w) r();
    };
    let declare!: (size: number) => void;
    const run: Running = {
      name,
      opened: new Promise<number>((r) => (declare = r)),
      committed: Promise.resolve(0),
      temp: `_upstream/tmp/${crypto.randomUUID()}`,
      received: 0,
      moved: false,
      changed: () => new Promise<void>((r) => waiters.push(r)),
    };
    run.committed = (async () => {
      try {
        const res = await deps.open(name, digest);
        const declared = Number(res.headers.get("content-length") ?? NaN);
        declare(Number.isFinite(declared) ? declared : -1);
        const hasher = new Bun.CryptoHasher(parseDigest(digest).algorithm);
        await driver.write(run.temp, new Uint8Array(0));
        // Body pieces are a few hundred KB; on a store where every append is an object (S3) they are
        // gathered first, else a 1 GB blob became ~4,000 objects and a list rewritten as often.
        const batch = driver.appendBatchBytes ?? 0;
        let pending: Uint8Array[] = [];
        let pendingBytes = 0;
        const flush = async () => {
          if (pendingBytes === 0) return;
          await driver.append(run.temp, pending.length === 1 ? pending[0]! : Buffer.concat(pending));
          run.received += pendingBytes;
          pending = [];
          pendingBytes = 0;
          notify();
        };
        for await (const chunk of res.body!) {
          hasher.update(chunk);
          metrics.fromUpstream(chunk.byteLength);
          pending.push(chunk);
          pendingBytes += chunk.byteLength;
          if (pendingBytes >= batch) await flush();
        }
        await flush();
        const got = `${parseDigest(digest).algorithm}:${hasher.digest("hex")}`;
        if (got !== digest) throw new BlobFetchError(`upstream blob ${digest} failed verification: its content hashes to ${got}`);
        if (declared >= 0 && run.received !== declared) throw new BlobFetchError(`upstream blob ${digest} ended after ${run.received} of ${declared} bytes`);
        await driver.move(run.temp, blobDataPath(digest));
        // Linked (and recorded) before any follower sees its end, so a client's next request finds it here.
        await deps.commit(name, digest, run.received);
        run.moved = true;
        notify();
        return run.received;
      } catch (e) {
        const error = e instanceof BlobFetchError ? e : new BlobFetchError(`upstream blob ${digest}: ${(e as Error).message}`);
        run.failed = error;
        declare(-1);
        await driver.delete(run.temp);
        log(`upstream: ${error.message}; nothing kept`);
        notify();
        throw error;
      }
    })();
    // Followers see the failure through their streams; an unobserved rejection must not crash the process.
    run.committed.catch(() => {});
    return run;
  };

  const follow = (run: Running, digest: Digest): ReadableStream<Uint8Array> => {
    let pos = 0;
    return new ReadableStream<Uint8Array>({
      async pull(c) {
        for (;;) {
          if (run.failed) return c.error(run.failed);
          // Until the blob is verified and in the store, its last byte is not handed out.
          const limit = run.moved ? run.received : run.received - 1;
          if (pos < limit) {
            const end = Math.min(limit, pos + READ_CHUNK);
            let bytes: Uint8Array | undefined;
            try {
              bytes = new Uint8Array(await new Response(driver.reader(run.moved ? blobDataPath(digest) : run.temp, pos, end)).arrayBuffer());
            } catch (e) {
              if (run.moved) throw e;
              // The temp file is being moved into the store (or was deleted): wait for the outcome.
              await run.changed();
              continue;
            }
            pos += bytes.byteLength;
            return c.enqueue(bytes);
          }
          if (run.moved) return c.close();
          await run.changed();
        }
      },
    });
  };

  // The running fetch of `digest` (whichever repository it is for), else a new one for `name`.
  const join = (name: string, digest: Digest): Running => {
    const running = inFlight.get(digest);
    if (running) return running;
    const run = start(name, digest);
    inFlight.set(digest, run);
    void run.committed.finally(() => inFlight.delete(digest)).catch(() => {});
    return run;
  };

  return {
    /**
     * Joins or starts the fetch of `digest` for `name`. `blob` is a body following it (undefined
     * when a fetch for another repository is running: wait on `committed`, then confirm).
     */
    async serve(name: string, digest: Digest): Promise<{ blob?: FollowedBlob; committed: Promise<number> }> {
      const run = join(name, digest);
      if (run.name !== name) return { committed: run.committed };
      const size = await run.opened;
      if (run.failed) await run.committed; // throws the failure (e.g. 404) before any response starts
      return { blob: { size, body: follow(run, digest) }, committed: run.committed };
    },
    /** Fetches into the store without a client (configs, field blobs, range requests): nothing follows the file. */
    async fetch(name: string, digest: Digest): Promise<void> {
      await join(name, digest).committed;
    },
  };
}
