/** Tells a layer blob's compression from its first bytes (reference fields do not record it). */
import { MediaType } from "../../oci/media-types.ts";

/** The OCI layer media type matching the magic bytes at the start of a blob. */
export function sniffLayerMediaType(head: Uint8Array): string {
  if (head[0] === 0x1f && head[1] === 0x8b) return MediaType.ociLayerGzip;
  if (head[0] === 0x28 && head[1] === 0xb5 && head[2] === 0x2f && head[3] === 0xfd) return MediaType.ociLayerZstd;
  return MediaType.ociLayer;
}
