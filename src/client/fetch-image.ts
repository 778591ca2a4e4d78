/**
 * Copies an image from a registry into the local store: root manifest, platform manifests,
 * configs, layers and (for reference-format fields) the allotment blobs the field lists.
 * Blobs already in the store are not fetched again.
 */
import type { LayoutStore } from "../content/layout-store.ts";
import { type Descriptor, type Platform, platformMatches, toPlatformString } from "../oci/descriptor.ts";
import type { Digest } from "../oci/digest.ts";
import { type ImageIndex, type ImageManifest, toManifestBytes } from "../oci/manifest.ts";
import { isImageManifestType, isIndexType } from "../oci/media-types.ts";
import { type ImageReference, parseReference, toFamiliarString } from "../oci/reference.ts";
import { MAX_FIELD_BLOB_BYTES, findReferenceFieldLayer, parseReferenceField } from "../field/reference-format.ts";
import { type BlobRef, downloadBlobToStore } from "./transport/blob-download.ts";
import { ImageNotFoundError } from "./errors.ts";
import { runBounded } from "../util/run-bounded.ts";
import type { RegistryClient } from "./transport/registry-client.ts";
import { recordSeen } from "./transport/seen-repos.ts";
import { type TransferObserver, silentObserver } from "./transfer-observer.ts";

/** Options of an image copy. */
export interface FetchImageOptions {
  /** Keep only this platform of a multi-platform image (the result is then a filtered index). */
  platform?: Platform;
  /** Parallel blob downloads (default 4). */
  jobs?: number;
  observer?: TransferObserver;
}

/** Thrown when a partition reference is given where a whole image is meant. */
export class PartitionNotAllowedError extends Error {
  override name = "PartitionNotAllowedError";
}

/** Fetches `ref` into `store` and returns the descriptor of its root (the caller names it with `store.setImage`). */
export async function fetchImageToStore(
  client: RegistryClient,
  ref: ImageReference | string,
  store: LayoutStore,
  opts: FetchImageOptions = {},
): Promise<Descriptor> {
  const reference = typeof ref === "string" ? parseReference(ref) : ref;
  if (reference.rects) throw new PartitionNotAllowedError(`${toFamiliarString(reference)} names a partition; fetch the whole image or use 2dfs pull`);
  const repo = reference.repository;
  const root = await client.getManifest(repo, reference.digest ?? reference.tag ?? "latest");
  const blobs = new Map<Digest, BlobRef>();
  let rootDescriptor = root.descriptor;

  if (root.parsed.kind === "index") {
    const index = root.parsed.manifest;
    const children = opts.platform ? index.manifests.filter((m) => isImageManifestType(m.mediaType) && platformMatches(m.platform, opts.platform!)) : index.manifests;
    if (children.length === 0) {
      const available = index.manifests.flatMap((m) => (m.platform ? [toPlatformString(m.platform)] : [])).join(", ");
      throw new ImageNotFoundError(
        `${toFamiliarString(reference)} has no image for ${opts.platform ? toPlatformString(opts.platform) : "any platform"}${available ? ` (it has ${available})` : ""}`,
      );
    }
    for (const child of children) await fetchChild(client, repo, child, store, blobs);
    if (children.length === index.manifests.length) {
      await store.putBlob(root.parsed.bytes);
    } else {
      const filtered: ImageIndex = { ...index, manifests: children };
      const bytes = toManifestBytes(filtered);
      const stored = await store.putBlob(bytes);
      rootDescriptor = { mediaType: root.parsed.mediaType, digest: stored.digest, size: stored.size };
    }
  } else {
    await store.putBlob(root.parsed.bytes);
    await collectImageBlobs(client, repo, root.parsed.manifest, store, blobs);
  }

  const observer = opts.observer ?? silentObserver;
  await runBounded([...blobs.values()], opts.jobs ?? 4, async (blob) => {
    await downloadBlobToStore(client, repo, blob, store, observer);
    await recordSeen(store, blob.digest, client.registry, repo);
  });
  return rootDescriptor;
}

async function fetchChild(client: RegistryClient, repo: string, child: Descriptor, store: LayoutStore, blobs: Map<Digest, BlobRef>): Promise<void> {
  if (!isImageManifestType(child.mediaType) && !isIndexType(child.mediaType)) {
    blobs.set(child.digest, { digest: child.digest, size: child.size });
    return;
  }
  const fetched = await client.getManifest(repo, child.digest);
  await store.putBlob(fetched.parsed.bytes);
  if (fetched.parsed.kind === "index") {
    for (const grandchild of fetched.parsed.manifest.manifests) await fetchChild(client, repo, grandchild, store, blobs);
  } else {
    await collectImageBlobs(client, repo, fetched.parsed.manifest, store, blobs);
  }
}

async function collectImageBlobs(client: RegistryClient, repo: string, manifest: ImageManifest, store: LayoutStore, blobs: Map<Digest, BlobRef>): Promise<void> {
  for (const d of [manifest.config, ...manifest.layers]) blobs.set(d.digest, { digest: d.digest, size: d.size });
  const fieldAt = findReferenceFieldLayer(manifest);
  if (fieldAt < 0) return;
  // Reference-format allotments are listed only inside the field blob, so read it now.
  const field = manifest.layers[fieldAt]!;
  await downloadBlobToStore(client, repo, { digest: field.digest, size: field.size }, store);
  const cells = parseReferenceField(await store.readBlob(field.digest, MAX_FIELD_BLOB_BYTES));
  for (const cell of cells) if (!blobs.has(cell.digest)) blobs.set(cell.digest, { digest: cell.digest });
}
