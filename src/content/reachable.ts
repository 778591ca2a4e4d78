/** The set of blobs an image graph references, including allotments listed only inside a reference-format field blob. */
import type { Descriptor } from "../oci/descriptor.ts";
import { MAX_MANIFEST_BYTES, parseManifest } from "../oci/manifest.ts";
import { MediaType } from "../oci/media-types.ts";
import { MAX_FIELD_BLOB_BYTES, parseReferenceField } from "../field/reference-format.ts";
import type { BlobSource } from "./image-graph.ts";

/** Adds to `into` every digest reachable from `root`; a blob that cannot be read is kept (never deleted by mistake). */
export async function collectReachable(source: BlobSource, root: Descriptor, into: Set<string>): Promise<void> {
  if (into.has(root.digest)) return;
  into.add(root.digest);
  if (root.mediaType === MediaType.tdfsField) {
    const bytes = await source.readBlob(root.digest, MAX_FIELD_BLOB_BYTES);
    for (const cell of parseReferenceField(bytes)) {
      into.add(cell.digest);
    }
    return;
  }
  const isManifest = root.mediaType.includes("manifest") || root.mediaType.includes("image.index");
  if (!isManifest) return;
  const parsed = parseManifest(await source.readBlob(root.digest, MAX_MANIFEST_BYTES), root.mediaType);
  const children = parsed.kind === "index" ? parsed.manifest.manifests : [parsed.manifest.config, ...parsed.manifest.layers];
  if (parsed.manifest.subject) children.push(parsed.manifest.subject);
  for (const child of children) await collectReachable(source, child, into);
}
