/**
 * Manifests through the edge: a digest missing locally is fetched, verified and stored; a tag
 * is taken from upstream and revalidated with a HEAD after its time to live (served stale,
 * with a log line, while upstream is unreachable). With a tag come the child manifests and
 * configs (and a reference field blob), so partitions are computed here from the plain tag:
 * no partition request ever goes upstream. Tags pushed to the edge itself are never revalidated.
 */
import { parseTagPartition } from "../../oci/partition-suffix.ts";
import { findReferenceFieldLayer, parseReferenceField } from "../../field/reference-format.ts";
import { selectAllotments } from "../../field/field.ts";
import { type Digest, isDigest, parseDigest } from "../../oci/digest.ts";
import { OciError } from "../../oci/errors.ts";
import { type ImageManifest, MAX_MANIFEST_BYTES, parseManifest } from "../../oci/manifest.ts";
import { MANIFEST_MEDIA_TYPES, isImageManifestType } from "../../oci/media-types.ts";
import type { Rect } from "../../oci/partition-suffix.ts";
import { TAG_PATTERN } from "../../oci/partition-suffix.ts";
import type { StorageDriver } from "../driver/driver.ts";
import type { Metrics } from "../metrics.ts";
import type { BlobService } from "../services/blobs.ts";
import { type ManifestService, digestBytes } from "../services/manifests.ts";
import type { PartitionService } from "../services/partitions.ts";
import type { TagService } from "../services/tags.ts";
import { blobDataPath, revisionLinkPath } from "../storage/paths.ts";
import { type UpstreamClient, UpstreamUnreachableError } from "./http-client.ts";

const ACCEPT = { Accept: MANIFEST_MEDIA_TYPES.join(", ") };

// Repository name components never start with "_", so "_t" cannot collide with a name.
const tagMarkerPath = (name: string, tag: string) => `_upstream/tags/${name}/_t/${tag}`;

/** What the manifest side needs. */
export interface ManifestFetchDeps {
  driver: StorageDriver;
  blobs: BlobService;
  tags: TagService;
  manifests: ManifestService;
  partitions: PartitionService;
  metrics: Metrics;
  log: (line: string) => void;
  tagTtlMs: number;
  clientFor(name: string): UpstreamClient | undefined;
  /** Fetches a blob into the store and links it into `name` (no client attached). */
  fetchBlob(name: string, digest: Digest): Promise<void>;
}

/** Creates `prepare(name, reference)`: afterwards the local lookup finds what upstream has. */
export function createManifestFetcher(deps: ManifestFetchDeps) {
  const { driver, blobs, tags, manifests, metrics, log } = deps;
  const checkedAt = new Map<string, number>();
  const inFlight = new Map<string, Promise<void>>();
  const once = (key: string, work: () => Promise<void>): Promise<void> => {
    let p = inFlight.get(key);
    if (!p) {
      p = work().finally(() => inFlight.delete(key));
      inFlight.set(key, p);
    }
    return p;
  };
  const gatewayError = (what: string, e: unknown) =>
    new OciError("MANIFEST_UNKNOWN", `${what} is not cached here and ${(e as Error).message}`, { status: 502 });

  // GET by digest, verify, store with its revision link; false when upstream does not have it.
  const fetchManifest = async (client: UpstreamClient, name: string, digest: Digest): Promise<boolean> => {
    const res = await client.request("GET", name, `manifests/${digest}`, ACCEPT);
    if (res.status === 404) return false;
    if (!res.ok) throw new UpstreamUnreachableError(`upstream ${client.url} answered ${res.status} for manifest ${digest} in ${name}`);
    const bytes = new Uint8Array(await res.arrayBuffer());
    metrics.fromUpstream(bytes.byteLength);
    if (bytes.byteLength > MAX_MANIFEST_BYTES) throw new OciError("MANIFEST_INVALID", `upstream manifest ${digest} is over ${MAX_MANIFEST_BYTES} bytes`, { status: 502 });
    const got = digestBytes(bytes, parseDigest(digest).algorithm);
    if (got !== digest) throw new OciError("MANIFEST_INVALID", `upstream manifest ${digest} failed verification: it hashes to ${got}`, { status: 502 });
    const parsed = parseManifest(bytes, res.headers.get("content-type")?.split(";")[0]?.trim() || undefined);
    if (!(await driver.stat(blobDataPath(digest)))) await driver.write(blobDataPath(digest), bytes);
    await driver.write(revisionLinkPath(name, digest), new TextEncoder().encode(parsed.mediaType));
    metrics.miss("manifest");
    return true;
  };

  const ensureBlob = async (name: string, digest: Digest) => {
    if (await blobs.stat(name, digest)) return;
    await deps.fetchBlob(name, digest);
  };

  // The image manifests of a stored manifest: itself, or an index's image children (fetched
  // from `client` when missing here).
  const imagesOf = async (name: string, digest: Digest, client?: UpstreamClient): Promise<ImageManifest[]> => {
    const top = await manifests.getByDigest(name, digest);
    if (!top) return [];
    if (top.parsed.kind === "image") return [top.parsed.manifest];
    const images: ImageManifest[] = [];
    for (const entry of top.parsed.manifest.manifests) {
      if (!isImageManifestType(entry.mediaType)) continue;
      let child = await manifests.getByDigest(name, entry.digest);
      if (!child && client && (await fetchManifest(client, name, entry.digest))) child = await manifests.getByDigest(name, entry.digest);
      if (child?.parsed.kind === "image") images.push(child.parsed.manifest);
    }
    return images;
  };

  // Child manifests, configs and reference field blobs: what computing a partition reads.
  const fetchDeep = async (client: UpstreamClient, name: string, digest: Digest) => {
    for (const image of await imagesOf(name, digest, client)) {
      await ensureBlob(name, image.config.digest);
      const at = findReferenceFieldLayer(image);
      if (at >= 0) await ensureBlob(name, image.layers[at]!.digest);
    }
  };

  // The reference format keeps allotments out of manifests and the partition code reads their
  // sizes, so the selected ones are fetched before the partition manifest is answered.
  const fetchReferenceCells = async (name: string, tag: string, rects: Rect[]) => {
    const digest = await tags.resolve(name, tag);
    if (!digest) return;
    for (const image of await imagesOf(name, digest)) {
      const at = findReferenceFieldLayer(image);
      if (at < 0) continue;
      const bytes = await blobs.read(image.layers[at]!.digest);
      if (!bytes) continue;
      const cells = selectAllotments(parseReferenceField(bytes), rects);
      await Promise.all(cells.map((c) => ensureBlob(name, c.digest)));
    }
  };

  const revalidate = async (client: UpstreamClient, name: string, tag: string, local: Digest | undefined) => {
    const key = `${name}:${tag}`;
    let res: Response;
    try {
      res = await client.request("HEAD", name, `manifests/${tag}`, ACCEPT);
      if (res.status >= 500) throw new UpstreamUnreachableError(`upstream ${client.url} answered ${res.status}`);
    } catch (e) {
      if (!(e instanceof UpstreamUnreachableError)) throw e;
      if (!local) throw gatewayError(`${name}:${tag}`, e);
      metrics.stale();
      metrics.hit("manifest");
      log(`upstream: serving cached tag ${key} (stale): ${e.message}`);
      return;
    }
    if (local) metrics.revalidated();
    if (res.status === 404) {
      if (local) {
        await tags.remove(name, tag);
        await driver.delete(tagMarkerPath(name, tag));
        log(`upstream: tag ${key} is gone upstream; removed here`);
      }
      checkedAt.delete(key);
      return;
    }
    if (!res.ok) throw new OciError("MANIFEST_UNKNOWN", `upstream ${client.url} answered ${res.status} for ${key}`, { status: res.status === 401 || res.status === 403 ? 502 : res.status });
    const header = res.headers.get("docker-content-digest");
    let digest: Digest;
    if (header && isDigest(header)) digest = header;
    else {
      // A registry that sends no digest on HEAD: take the manifest by tag and hash it.
      const got = await client.request("GET", name, `manifests/${tag}`, ACCEPT);
      if (!got.ok) throw new OciError("MANIFEST_UNKNOWN", `upstream ${client.url} answered ${got.status} for ${key}`, { status: 502 });
      digest = digestBytes(new Uint8Array(await got.arrayBuffer()), "sha256");
    }
    if (digest === local && (await manifests.getByDigest(name, digest))) metrics.hit("manifest");
    else if (!(await manifests.getByDigest(name, digest)) && !(await fetchManifest(client, name, digest))) {
      throw new OciError("MANIFEST_UNKNOWN", `upstream ${client.url} named ${digest} for ${key} but does not serve it`, { status: 502 });
    }
    await fetchDeep(client, name, digest);
    await tags.set(name, tag, digest);
    await driver.write(tagMarkerPath(name, tag), new TextEncoder().encode(client.url));
    checkedAt.set(key, Date.now());
    if (local && local !== digest) log(`upstream: tag ${key} moved from ${local} to ${digest}`);
  };

  const ensureTag = async (client: UpstreamClient, name: string, tag: string) => {
    const local = await tags.resolve(name, tag);
    if (local && !(await driver.stat(tagMarkerPath(name, tag)))) return; // pushed here: ours
    const at = checkedAt.get(`${name}:${tag}`);
    if (local && at !== undefined && Date.now() - at < deps.tagTtlMs) {
      metrics.hit("manifest");
      return;
    }
    await once(`tag ${name}:${tag}`, () => revalidate(client, name, tag, local));
  };

  return async function prepare(name: string, reference: string): Promise<void> {
    const client = deps.clientFor(name);
    if (!client) return;
    if (isDigest(reference)) {
      if ((await manifests.getByDigest(name, reference)) || (await deps.partitions.derived(name, reference))) {
        metrics.hit("manifest");
        return;
      }
      await once(`digest ${name}@${reference}`, async () => {
        try {
          await fetchManifest(client, name, reference);
        } catch (e) {
          if (e instanceof UpstreamUnreachableError) throw gatewayError(`${name}@${reference}`, e);
          throw e;
        }
      });
      return;
    }
    let partition;
    try {
      partition = parseTagPartition(reference);
    } catch {
      return; // the local lookup names what is malformed
    }
    try {
      if (partition) {
        await ensureTag(client, name, partition.baseTag);
        await fetchReferenceCells(name, partition.baseTag, partition.rects);
      } else if (TAG_PATTERN.test(reference)) await ensureTag(client, name, reference);
    } catch (e) {
      if (e instanceof UpstreamUnreachableError) throw gatewayError(`${name}:${reference}`, e);
      throw e;
    }
  };
}
