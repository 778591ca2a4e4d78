/** The pull-through cache of `2dfs serve --upstream`: the hooks the blob and manifest routes call. */
import type { Digest } from "../../oci/digest.ts";
import { OciError } from "../../oci/errors.ts";
import type { StorageDriver } from "../driver/driver.ts";
import type { Metrics } from "../metrics.ts";
import type { BlobService } from "../services/blobs.ts";
import type { ManifestService } from "../services/manifests.ts";
import type { PartitionService } from "../services/partitions.ts";
import type { TagService } from "../services/tags.ts";
import { BlobFetchError, createBlobFetcher } from "./blob-fetch.ts";
import { createCacheIndex } from "./cache-index.ts";
import { findCredentials } from "./credentials.ts";
import { type UpstreamClient, UpstreamUnreachableError, createUpstreamClient } from "./http-client.ts";
import { createManifestFetcher } from "./manifest-fetch.ts";
import { type FetchReferrers, createReferrersFetcher } from "./referrers-fetch.ts";
import { type UpstreamTarget, pickUpstream } from "./options.ts";

/** Settings of the pull-through cache. */
export interface UpstreamOptions {
  targets: UpstreamTarget[];
  /** `--upstream-user` (password from TDFS_UPSTREAM_PASSWORD); else Docker's config.json. */
  user?: string;
  /** Tags are revalidated with a HEAD after this long (default 60 s). */
  tagTtlSeconds?: number;
  /** Upstream blobs beyond this many bytes are evicted, least recently used first. */
  cacheMaxBytes?: number;
  /** A private CA (PEM) to trust for HTTPS upstreams (`--upstream-ca`, else $TDFS_CA_CERT). */
  caPem?: string;
  log?: (line: string) => void;
}

/** The hooks the routes call. */
export interface Upstream {
  /** Before a manifest lookup: makes the digest, tag or a partition's base tag local (tags revalidated after the TTL). */
  prepareManifest(name: string, reference: string): Promise<void>;
  /**
   * A blob not linked locally: a Response streaming it while it is cached (the first request
   * for it), or undefined once it is local (or upstream does not have it).
   */
  blob(name: string, digest: Digest, request: Request): Promise<Response | undefined>;
  /** A local blob was served. */
  touch(digest: Digest): void;
  /** Upstream's referrers of `subject` (see referrers-fetch.ts); undefined when no upstream serves `name` or it cannot say. */
  referrers: FetchReferrers;
}

/** The cache header the access log prints. */
export const CACHE_HEADER = "X-2dfs-Cache";

/** Creates the pull-through cache over a registry's services. */
export function createUpstream(
  services: { driver: StorageDriver; blobs: BlobService; tags: TagService; manifests: ManifestService; partitions: PartitionService; metrics: Metrics },
  opts: UpstreamOptions,
): Upstream {
  const { driver, blobs, metrics } = services;
  const log = opts.log ?? (() => {});
  const credentialsFor = (url: string) => () =>
    findCredentials(url, opts.user).catch((e) => {
      log(`upstream ${url}: no credentials: ${(e as Error).message}`);
      return undefined;
    });
  const clients = opts.targets.map((t) => ({ ...t, client: createUpstreamClient(t.url, credentialsFor(t.url), opts.caPem) }));
  const clientFor = (name: string): UpstreamClient | undefined => pickUpstream(clients, name)?.client;
  // Loaded in the background; the first commit waits for it.
  const index = createCacheIndex(driver, metrics, opts.cacheMaxBytes, log);
  index.catch((e) => log(`upstream: cannot read the cache index: ${(e as Error).message}`));

  const fetcher = createBlobFetcher({
    driver,
    metrics,
    log,
    async open(name, digest) {
      const client = clientFor(name)!;
      let res: Response;
      try {
        res = await client.request("GET", name, `blobs/${digest}`);
      } catch (e) {
        throw new BlobFetchError((e as Error).message);
      }
      if (res.status === 200) return res;
      await res.body?.cancel();
      throw new BlobFetchError(`upstream ${client.url} answered ${res.status} for blob ${digest} in ${name}`, res.status === 404);
    },
    async commit(name, digest, size) {
      await blobs.link(name, digest);
      const cache = await index;
      const unpin = cache.pin(digest);
      try {
        await cache.add(digest, size, name);
      } finally {
        unpin();
      }
    },
  });

  const toOciError = (e: unknown): never => {
    if (e instanceof BlobFetchError || e instanceof UpstreamUnreachableError) {
      throw new OciError("BLOB_UNKNOWN", e.message, { status: e instanceof BlobFetchError && e.notFound ? 404 : 502 });
    }
    throw e;
  };

  // Data already here (another repository's, or a joined fetch): link it once upstream confirms
  // this repository has it, so no repository's blobs are served under another name unasked.
  const linkIfUpstreamHas = async (client: UpstreamClient, name: string, digest: Digest) => {
    const res = await client.request("HEAD", name, `blobs/${digest}`).catch(toOciError);
    if (res.ok) await blobs.link(name, digest);
  };

  // Fetches with no client attached (configs, field blobs, a Range request): into the store, then linked.
  const fetchBlobQuiet = async (name: string, digest: Digest) => {
    if (!(await blobs.statData(digest))) {
      metrics.miss("blob");
      await fetcher.fetch(name, digest).catch(toOciError);
    }
    if (!(await blobs.stat(name, digest))) await linkIfUpstreamHas(clientFor(name)!, name, digest);
  };

  const tagTtlMs = (opts.tagTtlSeconds ?? 60) * 1000;
  const prepare = createManifestFetcher({ ...services, log, tagTtlMs, clientFor, fetchBlob: fetchBlobQuiet });

  return {
    prepareManifest: prepare,
    referrers: createReferrersFetcher({ clientFor, ttlMs: tagTtlMs, log }),
    touch(digest) {
      metrics.hit("blob");
      void index.then((cache) => cache.touch(digest), () => {});
    },
    async blob(name, digest, request) {
      const client = clientFor(name);
      if (!client) return undefined;
      if (await blobs.statData(digest)) {
        await linkIfUpstreamHas(client, name, digest);
        if (await blobs.stat(name, digest)) metrics.hit("blob");
        return undefined;
      }
      if (request.method === "HEAD") {
        // A HEAD asks for the size only: answered from upstream's headers, nothing is fetched.
        const res = await client.request("HEAD", name, `blobs/${digest}`).catch(toOciError);
        if (!res.ok) return undefined;
        const headers: Record<string, string> = { "Docker-Content-Digest": digest, "Content-Type": "application/octet-stream", [CACHE_HEADER]: "MISS" };
        const length = res.headers.get("content-length");
        if (length) headers["Content-Length"] = length;
        return new Response(null, { status: 200, headers });
      }
      if (request.headers.has("range")) {
        // A range of a missing blob: fetch it whole, then the route serves the range from the store.
        await fetchBlobQuiet(name, digest);
        return undefined;
      }
      metrics.miss("blob");
      const { blob, committed } = await fetcher.serve(name, digest).catch(toOciError);
      if (!blob) {
        await committed.catch(toOciError);
        if (!(await blobs.stat(name, digest))) await linkIfUpstreamHas(client, name, digest);
        return undefined;
      }
      const headers: Record<string, string> = {
        "Docker-Content-Digest": digest,
        "Content-Type": "application/octet-stream",
        ETag: `"${digest}"`,
        [CACHE_HEADER]: "MISS",
      };
      if (blob.size >= 0) headers["Content-Length"] = String(blob.size);
      return new Response(blob.body, { status: 200, headers });
    },
  };
}
