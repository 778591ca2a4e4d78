/** Converting a Docker schema 2 manifest into an OCI one, so 2dfs can annotate it. */
import type { Descriptor } from "../oci/descriptor.ts";
import type { ImageManifest } from "../oci/manifest.ts";
import { MediaType } from "../oci/media-types.ts";

// OCI's (deprecated but still understood) equivalent of Docker's foreign layers; kept with its urls.
const OCI_NONDISTRIBUTABLE_GZIP = "application/vnd.oci.image.layer.nondistributable.v1.tar+gzip";

const DOCKER_TO_OCI: Record<string, string> = {
  [MediaType.dockerManifest]: MediaType.ociManifest,
  [MediaType.dockerConfig]: MediaType.ociConfig,
  [MediaType.dockerLayerGzip]: MediaType.ociLayerGzip,
  [MediaType.dockerLayer]: MediaType.ociLayer,
  [MediaType.dockerForeignLayerGzip]: OCI_NONDISTRIBUTABLE_GZIP,
};

/** The OCI media type for a Docker one; other types are returned unchanged. */
export function toOciMediaType(mediaType: string): string {
  return DOCKER_TO_OCI[mediaType] ?? mediaType;
}

/**
 * The same manifest as an OCI image manifest. Docker schema 2 has no annotations, and 2dfs must
 * annotate, so a Docker base becomes OCI: the blobs are identical, only the media type names
 * change. Every other field is kept in place.
 */
export function toOciManifest(manifest: ImageManifest): ImageManifest {
  const convert = (d: Descriptor): Descriptor => (d.mediaType in DOCKER_TO_OCI ? { ...d, mediaType: toOciMediaType(d.mediaType) } : d);
  return {
    ...manifest,
    mediaType: MediaType.ociManifest,
    config: convert(manifest.config),
    layers: manifest.layers.map(convert),
  };
}
