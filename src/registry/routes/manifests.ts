/** Manifest routes: GET/HEAD (tags, digests, partitions), PUT and DELETE. */
import { isDigest } from "../../oci/digest.ts";
import { OciError } from "../../oci/errors.ts";
import { MAX_MANIFEST_BYTES } from "../../oci/manifest.ts";
import { TAG_PATTERN } from "../../oci/partition-suffix.ts";
import type { Registry } from "../registry.ts";
import type { ServedDoc } from "../services/derived-store.ts";
import { acceptsManifestType } from "./accept.ts";
import { readBodyLimited } from "./http.ts";

// Exact tags and digests first; a partition suffix is only tried when no such tag exists.
async function findManifest(reg: Registry, name: string, reference: string): Promise<ServedDoc> {
  // An edge first makes what upstream has local (tags revalidated after their time to live).
  await reg.upstream?.prepareManifest(name, reference);
  if (isDigest(reference)) {
    const stored = await reg.manifests.getByDigest(name, reference);
    if (stored) return { digest: stored.digest, mediaType: stored.parsed.mediaType, bytes: stored.parsed.bytes };
    const doc = await reg.partitions.derived(name, reference);
    if (doc) return doc;
    throw new OciError("MANIFEST_UNKNOWN", `manifest ${reference} is not in ${name}`);
  }
  if (TAG_PATTERN.test(reference)) {
    const stored = await reg.manifests.resolve(name, reference);
    if (stored) return (await reg.partitions.wholeReferenceField(name, stored)) ?? { digest: stored.digest, mediaType: stored.parsed.mediaType, bytes: stored.parsed.bytes };
  }
  const partition = await reg.partitions.resolve(name, reference);
  if (partition) return partition;
  if (reference.includes(":")) throw new OciError("MANIFEST_UNKNOWN", `"${reference}" is not a valid digest`);
  throw new OciError("MANIFEST_UNKNOWN", `tag "${reference}" is not in ${name}`);
}

/** GET or HEAD of a manifest. */
export async function getManifest(reg: Registry, request: Request, name: string, reference: string): Promise<Response> {
  const doc = await findManifest(reg, name, reference);
  if (!acceptsManifestType(request.headers.get("accept"), doc.mediaType)) {
    throw new OciError("MANIFEST_UNKNOWN", `the manifest is ${doc.mediaType}, which the Accept header does not list`);
  }
  const headers = {
    "Content-Type": doc.mediaType,
    "Content-Length": String(doc.bytes.byteLength),
    "Docker-Content-Digest": doc.digest,
    ETag: `"${doc.digest}"`,
  };
  return new Response(request.method === "HEAD" ? null : doc.bytes, { status: 200, headers });
}

// The spec asks for at least 10 tags per request; far more is a mistake or an abuse.
const MAX_TAG_PARAMS = 100;

/** PUT of a manifest by tag or digest; a PUT by digest may add tags with `?tag=`. */
export async function putManifest(reg: Registry, request: Request, name: string, reference: string): Promise<Response> {
  const tagParams = new URL(request.url).searchParams.getAll("tag");
  if (tagParams.length > MAX_TAG_PARAMS) {
    throw new OciError("MANIFEST_INVALID", `${tagParams.length} tag parameters; at most ${MAX_TAG_PARAMS} per request`, { status: 414 });
  }
  const tooLarge = () =>
    new OciError("MANIFEST_INVALID", `manifest is over the ${MAX_MANIFEST_BYTES} byte limit`, { status: 413 });
  const bytes = await readBodyLimited(request, MAX_MANIFEST_BYTES, tooLarge);
  const stored = await reg.manifests.put(name, reference, bytes, request.headers.get("content-type") ?? undefined, tagParams);
  const headers = new Headers({
    Location: `/v2/${name}/manifests/${stored.digest}`,
    "Docker-Content-Digest": stored.digest,
    "Content-Length": "0",
  });
  const subject = stored.parsed.manifest.subject;
  if (subject) headers.set("OCI-Subject", subject.digest);
  // One OCI-Tag value per tag the `?tag=` parameters created (tags never contain commas).
  if (isDigest(reference)) for (const tag of stored.tags) headers.append("OCI-Tag", tag);
  return new Response(null, { status: 201, headers });
}

/** DELETE of a manifest (by digest) or of a tag. */
export async function deleteManifest(reg: Registry, name: string, reference: string): Promise<Response> {
  await reg.manifests.delete(name, reference);
  return new Response(null, { status: 202, headers: { "Content-Length": "0" } });
}
