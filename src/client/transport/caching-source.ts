/** A `BlobSource` that reads from the local store and fills it from a registry on a miss. */
import type { BlobSource } from "../../content/image-graph.ts";
import type { LayoutStore } from "../../content/layout-store.ts";
import type { Digest } from "../../oci/digest.ts";
import { MAX_MANIFEST_BYTES } from "../../oci/manifest.ts";

/** Manifests, configs and field blobs seen once are then read locally (verified by the store). */
export function createCachingSource(store: LayoutStore, remote: BlobSource): BlobSource {
  return {
    async readBlob(digest: Digest, maxBytes = MAX_MANIFEST_BYTES) {
      if (await store.hasBlob(digest)) return store.readBlob(digest, maxBytes);
      const bytes = await remote.readBlob(digest, maxBytes);
      await store.putBlob(bytes);
      return bytes;
    },
  };
}
