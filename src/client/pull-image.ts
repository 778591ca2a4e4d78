/**
 * `2dfs pull`: resolves a reference (with an optional partition) client-side against any
 * registry, downloads only the blobs the chosen format needs (in parallel, resumable, cached in
 * the local store), and writes files, a root filesystem or an OCI layout into a folder, all
 * staged beside it and moved in only when everything is verified.
 */
import { rm } from "node:fs/promises";
import { availableParallelism } from "node:os";
import { loadPlatform } from "../content/image-graph.ts";
import type { LayoutStore } from "../content/layout-store.ts";
import type { Descriptor, Platform } from "../oci/descriptor.ts";
import type { Digest } from "../oci/digest.ts";
import { ociLayerMediaType } from "../oci/media-types.ts";
import { toPartitionSuffix } from "../oci/partition-suffix.ts";
import { type ImageReference, parseReference, toFamiliarString } from "../oci/reference.ts";
import { detectFileCompression } from "../archive/compress.ts";
import { sha256Bytes } from "../hash/sha256.ts";
import { type ReceiveBody, downloadBlobToStore } from "./transport/blob-download.ts";
import { createCachingSource } from "./transport/caching-source.ts";
import { choosePlatform, pickManifest } from "./planning/choose-platform.ts";
import { type ImagePlan, NotAFieldError, layerDiffIds, layersBeforeConfig, planImage } from "./planning/image-plan.ts";
import { checkFinalLinks } from "./output/link-check.ts";
import { writeOciLayout } from "./output/oci-layout-writer.ts";
import { runBounded } from "../util/run-bounded.ts";
import { receiveBodyToFile } from "./transport/receive-body.ts";
import { loadLibc } from "../util/libc.ts";
import { type BodyReceivers, createBodyReceivers } from "./transport/body-receivers.ts";
import { createRegistryClient, type RegistryClient } from "./transport/registry-client.ts";
import { createRemoteBlobSource } from "./transport/remote-blob-source.ts";
import { type CommitOutcome, commitStagingDir, createStagingDir, targetState } from "./output/replace-dir.ts";
import { recordSeen } from "./transport/seen-repos.ts";
import { type TransferObserver, silentObserver } from "./transfer-observer.ts";

/** What a pull writes into its folder. */
export type PullFormat = "files" | "rootfs" | "oci";

/** Options of a pull. */
export interface PullOptions {
  dir: string;
  format?: PullFormat;
  /** Default: this machine's platform. */
  platform?: Platform;
  /** A promise too, so that opening (or creating) the store overlaps the first request. */
  store: LayoutStore | Promise<LayoutStore>;
  jobs?: number;
  observer?: TransferObserver;
  /** An existing client (tests, or a caller pulling many images from one registry). */
  client?: RegistryClient;
  /** Replace DIR's content instead of merging into it. */
  clean?: boolean;
}

/** What a pull did. */
export interface PullResult {
  /** Digest of the manifest written or extracted (the partition's when one was asked for). */
  manifestDigest: Digest;
  platform: Platform;
  layers: number;
  downloaded: number;
  cached: number;
  /** DIR had content before, and the pulled files were merged with it. */
  merged: boolean;
}

/** Pulls `ref` into `opts.dir`. */
export async function pullImage(ref: string | ImageReference, opts: PullOptions): Promise<PullResult> {
  const reference = typeof ref === "string" ? parseReference(ref) : ref;
  const format = opts.format ?? "files";
  const jobs = opts.jobs ?? 4;
  const observer = opts.observer ?? silentObserver;
  const client = opts.client ?? (await createRegistryClient({ registry: reference.registry, scheme: reference.scheme }));
  const repo = reference.repository;
  // Extraction needs tar-stream and Node's streams (10-20 ms to load): load them, only when the
  // format extracts, while the network is waited on.
  const extractor = format === "oci" ? undefined : import("./output/safe-extract.ts");
  extractor?.catch(() => {}); // a load failure is reported where it is awaited
  const rootRequest = client.getManifest(repo, reference.digest ?? reference.tag ?? "latest");
  // Bind the socket's C library calls (~2 ms) while the request is on its way, not at the first blob.
  if (client.socketTarget !== undefined) loadLibc();
  const [root, store] = await Promise.all([rootRequest, opts.store]);
  const counts = { downloaded: 0, cached: 0 };
  // Socket bodies are read on this thread and, for a large pull, on worker threads too.
  let receivers: BodyReceivers | undefined;
  const receiveBody: ReceiveBody = (job) => (receivers ? receivers.receive(job) : receiveBodyToFile(job));
  const fetchBlob = async (blob: { digest: Digest; size?: number }): Promise<void> => {
    const how = await downloadBlobToStore(client, repo, blob, store, observer, receiveBody);
    counts[how]++;
    await recordSeen(store, blob.digest, client.registry, repo);
  };

  await store.putBlob(root.parsed.bytes);
  const source = createCachingSource(store, createRemoteBlobSource(client, repo));
  const picked = await pickManifest(source, root, opts.platform, reference);

  // The manifest alone names most of the layers needed: download them while the config is read.
  const early = uniqueLayers(layersBeforeConfig(picked.manifest, reference.rects, format !== "files"));
  receivers = startReceivers(client, early, jobs);
  let layers: Descriptor[];
  let plan: ImagePlan;
  try {
    const prefetch = runBounded(early, jobs, fetchBlob);
    // Its failure is reported where it is awaited below; until then it must not count as unhandled.
    prefetch.catch(() => {});
    try {
      const image = choosePlatform([await loadPlatform(source, picked.descriptor, picked.manifestBytes, picked.manifest)], opts.platform, reference);
      // Reference fields do not record allotment sizes or media types: fetch the blob and look.
      const statBlob = async (digest: Digest) => {
        await fetchBlob({ digest });
        const size = (await store.blobSize(digest)) ?? 0;
        return { size, mediaType: ociLayerMediaType(await detectFileCompression(store.blobPath(digest))) };
      };
      plan = await planImage(source, image, reference.rects, statBlob, jobs);
      if (format === "files" && plan.fieldFormat === "plain") {
        throw new NotAFieldError(`${toFamiliarString(reference)} is not a 2DFS image, so it has no allotment files; use --format rootfs`);
      }
      layers = format === "files" ? plan.allotments : [...plan.baseLayers, ...plan.allotments];
    } catch (error) {
      await prefetch.catch(() => {}); // let the downloads settle; the planning error is the one to report
      throw error;
    }
    await prefetch;
    const started = new Set(early.map((l) => l.digest));
    await runBounded(uniqueLayers(layers).filter((l) => !started.has(l.digest)), jobs, (l) => fetchBlob({ digest: l.digest, size: l.size }));
  } finally {
    await receivers?.close();
  }

  const staging = await createStagingDir(opts.dir);
  let outcome: CommitOutcome;
  try {
    if (format === "oci") {
      const refName = `${reference.tag ?? "latest"}${reference.rects ? toPartitionSuffix(reference.rects) : ""}`;
      await writeOciLayout(staging, store, plan, refName);
    } else {
      const { createExtraction } = await extractor!;
      const extraction = createExtraction(staging, format);
      const diffIds = layerDiffIds(plan);
      const extract = (layer: Descriptor) => {
        const diffId = diffIds.get(layer.digest);
        return extraction.extractLayerFile(store.blobPath(layer.digest), `layer ${layer.digest}`, diffId ? { digest: layer.digest, diffId } : undefined);
      };
      // 2dfs's builder never lets two allotments write one path, so a native field's files can be
      // extracted side by side (safe-extract.ts says why they cannot race). The reference builder
      // does not check that, and a root filesystem applies layers in order (whiteouts): those go
      // one by one, later layers winning.
      if (format === "files" && plan.fieldFormat === "native") await runBounded(layers, jobs, extract);
      else for (const layer of layers) await extract(layer);
      const created = extraction.finish();
      const mergeInto = !opts.clean && targetState(opts.dir) === "folder" ? opts.dir : undefined;
      checkFinalLinks({ staged: staging, mergeInto, format, created });
    }
    outcome = await commitStagingDir(staging, opts.dir, { replace: opts.clean });
  } catch (error) {
    await rm(staging, { recursive: true, force: true });
    throw error;
  }
  return {
    manifestDigest: manifestDigestOf(plan),
    platform: plan.platform,
    layers: layers.length,
    ...counts,
    merged: outcome === "merged",
  };
}

/** Pulls of at least this many bytes (in the layers the manifest names) read socket bodies on worker threads too. */
const RECEIVER_THREADS_MIN_BYTES = 32 << 20;

/**
 * Worker threads that read socket bodies beside this thread, for a pull large enough to repay
 * starting them (~20 ms and ~27 ms of CPU each here, on another core): reading a body is one
 * copy and one SHA-256 per byte, so one thread per core is what makes a large pull faster.
 */
function startReceivers(client: RegistryClient, layers: Descriptor[], jobs: number): BodyReceivers | undefined {
  if (client.socketTarget === undefined) return undefined;
  const bytes = layers.reduce((sum, l) => sum + l.size, 0);
  const threads = Math.min(jobs, availableParallelism());
  if (bytes < RECEIVER_THREADS_MIN_BYTES || threads < 2 || layers.length < 2) return undefined;
  return createBodyReceivers(threads - 1);
}

function manifestDigestOf(plan: ImagePlan): Digest {
  return sha256Bytes(plan.manifestBytes);
}

/** Layers without repeats (an image may list one blob twice), in first-seen order. */
function uniqueLayers(layers: Descriptor[]): Descriptor[] {
  return [...new Map(layers.map((l) => [l.digest, l])).values()];
}
