/**
 * `2dfs push`: copies an image from the local store to a registry. Blobs first (HEAD, mount
 * from a repository of the same registry where the blob was seen, else upload; bounded
 * parallel), then platform manifests by digest, then the root under its tag, so the tag never
 * points at an incomplete image. Reference-format allotments, listed only in the field blob, go too.
 */
import type { LayoutStore } from "../content/layout-store.ts";
import { NotInStoreError } from "../content/layout-store.ts";
import type { Descriptor } from "../oci/descriptor.ts";
import type { Digest } from "../oci/digest.ts";
import { MAX_MANIFEST_BYTES, type ParsedManifest, parseManifest } from "../oci/manifest.ts";
import { type ImageReference, manifestPathReference } from "../oci/reference.ts";
import { MAX_FIELD_BLOB_BYTES, findReferenceFieldLayer, parseReferenceField } from "../field/reference-format.ts";
import { type UploadOptions, uploadBlob } from "./transport/blob-upload.ts";
import { runBounded } from "../util/run-bounded.ts";
import { createRegistryClient, type RegistryClient } from "./transport/registry-client.ts";
import { recordSeen, seenRepos } from "./transport/seen-repos.ts";
import { type TransferObserver, silentObserver } from "./transfer-observer.ts";

/** Options of a push. */
export interface PushOptions extends Pick<UploadOptions, "chunkSize" | "monolithicMax"> {
  jobs?: number;
  observer?: TransferObserver;
  client?: RegistryClient;
}

/** What a push did. */
export interface PushResult {
  digest: Digest;
  uploaded: number;
  exists: number;
  mounted: number;
}

/** Pushes the store image `name` to `dest` (a tag, or the digest of the root). */
export async function pushImage(store: LayoutStore, name: string, dest: ImageReference, opts: PushOptions = {}): Promise<PushResult> {
  if (dest.rects) throw new NotInStoreError("push a whole image: a partition suffix on the destination is not allowed");
  const root = await store.resolve(name);
  if (!root) throw new NotInStoreError(`no image named ${name} in the store ${store.root}`);
  const client = opts.client ?? (await createRegistryClient({ registry: dest.registry, scheme: dest.scheme }));
  const repo = dest.repository;
  const blobs = new Map<Digest, number>();
  const manifests: { descriptor: Descriptor; parsed: ParsedManifest }[] = [];

  const walk = async (d: Descriptor): Promise<ParsedManifest> => {
    const parsed = parseManifest(await store.readBlob(d.digest, MAX_MANIFEST_BYTES), d.mediaType);
    if (parsed.kind === "index") {
      for (const child of parsed.manifest.manifests) {
        // A filtered or partial index may name children the store never fetched: skip those.
        if (!(await store.hasBlob(child.digest))) continue;
        manifests.push({ descriptor: child, parsed: await walk(child) });
      }
      return parsed;
    }
    const m = parsed.manifest;
    for (const l of [m.config, ...m.layers]) blobs.set(l.digest, l.size);
    const at = findReferenceFieldLayer(m);
    if (at >= 0) {
      for (const cell of parseReferenceField(await store.readBlob(m.layers[at]!.digest, MAX_FIELD_BLOB_BYTES))) {
        const size = await store.blobSize(cell.digest);
        if (size === undefined) throw new NotInStoreError(`allotment ${cell.digest} (row ${cell.row}, col ${cell.col}) is not in the store`);
        blobs.set(cell.digest, size);
      }
    }
    return parsed;
  };
  const rootParsed = await walk(root);

  const counts = { uploaded: 0, exists: 0, mounted: 0 };
  await runBounded([...blobs], opts.jobs ?? 4, async ([digest, size]) => {
    if (!(await store.hasBlob(digest))) throw new NotInStoreError(`blob ${digest} of ${name} is not in the store`);
    const how = await uploadBlob(client, repo, { digest, size }, Bun.file(store.blobPath(digest)), {
      mountFrom: (await seenRepos(store, digest, client.registry)).reverse(),
      observer: opts.observer ?? silentObserver,
      chunkSize: opts.chunkSize,
      monolithicMax: opts.monolithicMax,
    });
    counts[how]++;
    await recordSeen(store, digest, client.registry, repo);
  });
  for (const { descriptor, parsed } of manifests) await client.putManifest(repo, descriptor.digest, parsed.bytes, parsed.mediaType);
  const digest = await client.putManifest(repo, manifestPathReference(dest), rootParsed.bytes, rootParsed.mediaType);
  return { digest, ...counts };
}
