/**
 * Where everything lives in a storage driver. Blobs are content-addressed and shared by
 * every repository; a repository only holds links to them, so a blob pushed twice to two
 * repositories is stored once and a cross-repository mount is one small write.
 */
import { type Digest, parseDigest } from "../../oci/digest.ts";

const REPOS = "repositories";

/** The blob's bytes (visible only after verification moved them here). */
export function blobDataPath(digest: Digest): string {
  const { algorithm, hex } = parseDigest(digest);
  return `blobs/${algorithm}/${hex.slice(0, 2)}/${hex}/data`;
}

/** The folder holding every blob of one algorithm (sharded by the first two hex digits). */
export function blobAlgorithmDir(algorithm: string): string {
  return `blobs/${algorithm}`;
}

/** The root of all repositories. */
export const REPOSITORIES_DIR = REPOS;

/** A repository's folder. */
export function repositoryDir(name: string): string {
  return `${REPOS}/${name}`;
}

/** The link that makes a blob part of a repository. */
export function layerLinkPath(name: string, digest: Digest): string {
  const { algorithm, hex } = parseDigest(digest);
  return `${REPOS}/${name}/_layers/${algorithm}/${hex}/link`;
}

/** The folder of a repository's manifest revisions for one algorithm. */
export function revisionsDir(name: string, algorithm: string): string {
  return `${REPOS}/${name}/_manifests/revisions/${algorithm}`;
}

/** The link that makes a manifest part of a repository; its content is the manifest's media type. */
export function revisionLinkPath(name: string, digest: Digest): string {
  const { algorithm, hex } = parseDigest(digest);
  return `${revisionsDir(name, algorithm)}/${hex}/link`;
}

/** The folder of a repository's tags. */
export function tagsDir(name: string): string {
  return `${REPOS}/${name}/_manifests/tags`;
}

/** The file holding the digest a tag points to. */
export function tagLinkPath(name: string, tag: string): string {
  return `${tagsDir(name)}/${tag}/current/link`;
}

/** The folder of the referrers of one subject in a repository. */
export function referrersDir(name: string, subject: Digest): string {
  const { algorithm, hex } = parseDigest(subject);
  return `${REPOS}/${name}/_referrers/${algorithm}/${hex}`;
}

/** The file holding the descriptor of one referrer (its name encodes the referrer's digest). */
export function referrerLinkPath(name: string, subject: Digest, referrer: Digest): string {
  const { algorithm, hex } = parseDigest(referrer);
  return `${referrersDir(name, subject)}/${algorithm}-${hex}`;
}

/** An upload session's folder: `data` (bytes so far) and `state` (offset and hash state). */
export function uploadDir(name: string, id: string): string {
  return `${REPOS}/${name}/_uploads/${id}`;
}

/** Generated partition documents (regenerable cache, never tags), keyed by digest. */
export function derivedDocPath(digest: Digest): string {
  const { algorithm, hex } = parseDigest(digest);
  return `_derived/docs/${algorithm}-${hex}`;
}

/** How to regenerate a derived document: which repository, base manifest and rectangles. */
export function derivedRecipePath(digest: Digest): string {
  const { algorithm, hex } = parseDigest(digest);
  return `_derived/recipes/${algorithm}-${hex}`;
}
