/** The registry's services wired over one storage driver; the routes take this bundle. */
import type { SessionHashes } from "../hash/session-hashes.ts";
import type { StorageDriver } from "./driver/driver.ts";
import { type BlobService, createBlobService } from "./services/blobs.ts";
import { type DerivedLimits, createDerivedStore } from "./services/derived-store.ts";
import { type ManifestService, createManifestService } from "./services/manifests.ts";
import { type PartitionService, createPartitionService } from "./services/partitions.ts";
import { type ReferrerService, createReferrerService } from "./services/referrers.ts";
import { type TagService, createTagService } from "./services/tags.ts";
import { type UploadService, createUploadService } from "./services/uploads.ts";
import { type Metrics, createMetrics } from "./metrics.ts";
import { type Upstream, type UpstreamOptions, createUpstream } from "./upstream/upstream.ts";

/** Every service of a registry instance. */
export interface Registry {
  driver: StorageDriver;
  readOnly: boolean;
  /** Blob GETs are answered with a redirect to the store's direct URL (`serve --redirect`). */
  redirect: boolean;
  blobs: BlobService;
  uploads: UploadService;
  tags: TagService;
  referrers: ReferrerService;
  manifests: ManifestService;
  partitions: PartitionService;
  metrics: Metrics;
  /** The pull-through cache (`serve --upstream`). */
  upstream?: Upstream;
}

/** Creates the services of a registry over a driver. */
export function createRegistry(
  driver: StorageDriver,
  opts: { readOnly?: boolean; redirect?: boolean; derivedLimits?: Partial<DerivedLimits>; hashThread?: SessionHashes; upstream?: UpstreamOptions; tier?: string } = {},
): Registry {
  const readOnly = opts.readOnly ?? false;
  const blobs = createBlobService(driver);
  const tags = createTagService(driver);
  const referrers = createReferrerService(driver);
  const manifests = createManifestService(driver, blobs, tags, referrers);
  const derived = createDerivedStore(driver, { readOnly, limits: opts.derivedLimits });
  const partitions = createPartitionService({ driver, blobs, manifests, derived });
  const metrics = createMetrics(opts.tier ?? (opts.upstream ? "edge" : "origin"));
  const upstream = opts.upstream && createUpstream({ driver, blobs, tags, manifests, partitions, metrics }, opts.upstream);
  return {
    driver,
    readOnly,
    redirect: opts.redirect ?? false,
    blobs,
    uploads: createUploadService(driver, blobs, { hashThread: opts.hashThread }),
    tags,
    referrers,
    manifests,
    partitions,
    metrics,
    upstream,
  };
}
