/** Parses `/v2/...` request paths into the endpoint they address (names may contain slashes). */
import { OciError } from "../../oci/errors.ts";
import { isRepositoryName } from "../../oci/reference.ts";

/** One distribution API endpoint with its path parameters. */
export type Endpoint =
  | { kind: "base" }
  | { kind: "catalog" }
  | { kind: "uploads"; name: string }
  | { kind: "upload"; name: string; id: string }
  | { kind: "blob"; name: string; digest: string }
  | { kind: "manifest"; name: string; reference: string }
  | { kind: "tags"; name: string }
  | { kind: "referrers"; name: string; digest: string };

const ENDPOINT = /^\/v2\/(.+?)\/(?:blobs\/uploads\/([^/]*)|blobs\/([^/]+)|manifests\/([^/]+)|tags\/list|referrers\/([^/]+))$/;

/** The endpoint of a raw (still percent-encoded) path, or undefined when it is none; bad names throw NAME_INVALID. */
export function parseEndpoint(pathname: string): Endpoint | undefined {
  if (pathname === "/v2/" || pathname === "/v2") return { kind: "base" };
  if (pathname === "/v2/_catalog") return { kind: "catalog" };
  const m = ENDPOINT.exec(pathname);
  if (!m) return undefined;
  const [, rawName = "", uploadId, blobDigest, reference, referrersDigest] = m;
  const name = decodeSegment(rawName);
  if (!isRepositoryName(name)) {
    throw new OciError("NAME_INVALID", `"${name}" is not a repository name: lowercase letters, digits and . _ - separated by /`);
  }
  if (uploadId !== undefined) return uploadId === "" ? { kind: "uploads", name } : { kind: "upload", name, id: decodeSegment(uploadId) };
  if (blobDigest !== undefined) return { kind: "blob", name, digest: decodeSegment(blobDigest) };
  // The paper's `tag+x1.y1.x2.y2` arrives raw or as %2B; decoding makes both the same.
  if (reference !== undefined) return { kind: "manifest", name, reference: decodeSegment(reference) };
  if (referrersDigest !== undefined) return { kind: "referrers", name, digest: decodeSegment(referrersDigest) };
  return { kind: "tags", name };
}

/** Percent-decodes a path segment; a malformed escape is left as it is. */
export function decodeSegment(text: string): string {
  try {
    return decodeURIComponent(text);
  } catch {
    return text;
  }
}
