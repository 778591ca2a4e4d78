/** A `BlobSource` over one registry repository, so `loadImage` can walk a remote image. */
import type { BlobSource } from "../../content/image-graph.ts";
import type { Digest } from "../../oci/digest.ts";
import { MAX_MANIFEST_BYTES } from "../../oci/manifest.ts";
import { RegistryResponseError } from "../errors.ts";
import type { RegistryClient } from "./registry-client.ts";

/** Reads verified blobs of `repo`; digests of manifests (which registries serve only under /manifests/) fall back to that endpoint. */
export function createRemoteBlobSource(client: RegistryClient, repo: string): BlobSource {
  return {
    async readBlob(digest: Digest, maxBytes = MAX_MANIFEST_BYTES) {
      try {
        return await client.readBlob(repo, digest, maxBytes);
      } catch (error) {
        if (!(error instanceof RegistryResponseError) || error.status !== 404) throw error;
        const fetched = await client.getManifest(repo, digest);
        return fetched.parsed.bytes;
      }
    },
  };
}
