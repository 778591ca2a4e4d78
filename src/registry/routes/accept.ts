/** Manifest content negotiation on the `Accept` header. */
import { MANIFEST_MEDIA_TYPES } from "../../oci/media-types.ts";

/**
 * True when a client with this Accept header can take `mediaType`. No header, a wildcard,
 * or a header naming no manifest type at all (e.g. `application/json`) accepts anything,
 * as most registries do; a header listing manifest types accepts only those.
 */
export function acceptsManifestType(accept: string | null, mediaType: string): boolean {
  if (!accept) return true;
  const types = accept.split(",").map((part) => part.split(";")[0]!.trim().toLowerCase());
  if (types.some((t) => t === "*/*" || t === "application/*")) return true;
  if (types.includes(mediaType)) return true;
  return !types.some((t) => MANIFEST_MEDIA_TYPES.includes(t));
}
