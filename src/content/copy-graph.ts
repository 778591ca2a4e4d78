/** Copies an image (index, manifests, configs, layers) from any blob source into the store. */
import type { Descriptor } from "../oci/descriptor.ts";
import type { Digest } from "../oci/digest.ts";
import { MAX_MANIFEST_BYTES, parseManifest } from "../oci/manifest.ts";
import type { BlobSource } from "./image-graph.ts";
import type { LayoutStore } from "./layout-store.ts";

/** A source whose large blobs are files (another image layout), copied without passing through memory. */
export interface FileSource extends BlobSource {
  /** The path of the blob's file; fails when the source does not have it. */
  blobFile(digest: Digest): Promise<string>;
}

/** Walks the graph under `root`; blobs already in the store (with the right size) are not copied again. */
export async function copyGraph(source: FileSource, root: Descriptor, store: LayoutStore): Promise<{ copied: number; present: number }> {
  const counts = { copied: 0, present: 0 };
  const visit = async (descriptor: Descriptor): Promise<void> => {
    const isManifest = descriptor.mediaType.includes("manifest") || descriptor.mediaType.includes("index");
    if (isManifest) {
      const bytes = await source.readBlob(descriptor.digest, MAX_MANIFEST_BYTES);
      const parsed = parseManifest(bytes, descriptor.mediaType);
      const children = parsed.kind === "index" ? parsed.manifest.manifests : [parsed.manifest.config, ...parsed.manifest.layers];
      for (const child of children) await visit(child);
      if (!(await store.hasBlob(descriptor.digest))) await store.putBlob(bytes);
      return;
    }
    if ((await store.blobSize(descriptor.digest)) === descriptor.size) {
      counts.present++;
      return;
    }
    await store.ingestFile(await source.blobFile(descriptor.digest), { digest: descriptor.digest, size: descriptor.size });
    counts.copied++;
  };
  await visit(root);
  return counts;
}
