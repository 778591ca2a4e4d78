/** The referrers of a subject: manifests whose `subject` names it, stored as descriptor links. */
import type { Descriptor } from "../../oci/descriptor.ts";
import type { Digest } from "../../oci/digest.ts";
import type { ImageIndex, ParsedManifest } from "../../oci/manifest.ts";
import { MediaType } from "../../oci/media-types.ts";
import type { StorageDriver } from "../driver/driver.ts";
import { referrerLinkPath, referrersDir } from "../storage/paths.ts";

/** The referrers operations. */
export interface ReferrerService {
  add(name: string, digest: Digest, parsed: ParsedManifest): Promise<void>;
  remove(name: string, digest: Digest, parsed: ParsedManifest): Promise<void>;
  /** The referrers index of a subject, filtered by artifactType when given. */
  list(name: string, subject: Digest, artifactType?: string): Promise<ImageIndex>;
}

/** The descriptor a referrers response lists for a manifest (artifactType falls back to the config's media type). */
export function toReferrerDescriptor(digest: Digest, parsed: ParsedManifest): Descriptor {
  const m = parsed.manifest;
  const d: Descriptor = { mediaType: parsed.mediaType, digest, size: parsed.bytes.byteLength };
  const artifactType = m.artifactType ?? (parsed.kind === "image" ? parsed.manifest.config.mediaType : undefined);
  if (artifactType !== undefined) d.artifactType = artifactType;
  if (m.annotations !== undefined) d.annotations = m.annotations;
  return d;
}

/** Creates the referrers service. */
export function createReferrerService(driver: StorageDriver): ReferrerService {
  return {
    async add(name, digest, parsed) {
      const subject = parsed.manifest.subject;
      if (!subject) return;
      const descriptor = toReferrerDescriptor(digest, parsed);
      await driver.write(referrerLinkPath(name, subject.digest, digest), new TextEncoder().encode(JSON.stringify(descriptor)));
    },
    async remove(name, digest, parsed) {
      const subject = parsed.manifest.subject;
      if (subject) await driver.delete(referrerLinkPath(name, subject.digest, digest));
    },
    async list(name, subject, artifactType) {
      const dir = referrersDir(name, subject);
      const manifests: Descriptor[] = [];
      for (const entry of await driver.list(dir)) {
        const bytes = await driver.read(`${dir}/${entry}`);
        if (!bytes) continue;
        const d = JSON.parse(new TextDecoder().decode(bytes)) as Descriptor;
        if (artifactType === undefined || d.artifactType === artifactType) manifests.push(d);
      }
      return { schemaVersion: 2, mediaType: MediaType.ociIndex, manifests };
    },
  };
}
