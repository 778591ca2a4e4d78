/** Image references with Docker's normalisation and the 2DFS partition suffix. */
import { type Digest, parseDigest } from "./digest.ts";
import { type Rect, TAG_PATTERN, parseTagPartition, toPartitionSuffix } from "./partition-suffix.ts";

/** The registry Docker assumes for names without a host. */
export const DOCKER_HUB = "docker.io";

/** A parsed reference. `tag` excludes the partition suffix; `rects` holds it. */
export interface ImageReference {
  /** Set only by an explicit `https://` or `http://` prefix; otherwise the client chooses. */
  scheme?: "https" | "http";
  registry: string;
  repository: string;
  tag?: string;
  digest?: Digest;
  rects?: Rect[];
}

/** Thrown for a reference that cannot be parsed. */
export class ReferenceError extends Error {
  override name = "ReferenceError";
}

const COMPONENT = /^[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*$/;

/** True for a valid repository name (`a/b/c`, lowercase components). */
export function isRepositoryName(name: string): boolean {
  return name.length > 0 && name.length <= 255 && name.split("/").every((c) => COMPONENT.test(c));
}

/**
 * Parses `[https://|http://][host[:port]/]repo[:tag][@digest]`, where the tag may carry a
 * partition suffix. Docker's rules: no host means docker.io, and a one-component name there
 * gets `library/`. No tag and no digest means `latest`. A scheme prefix (not Docker syntax:
 * 2dfs's way to force HTTPS or plain HTTP) must be followed by a host.
 */
export function parseReference(input: string): ImageReference {
  let rest = input.trim();
  if (rest.length === 0) throw new ReferenceError("empty image reference");
  const prefix = /^(https?):\/\//i.exec(rest);
  const scheme = prefix ? (prefix[1]!.toLowerCase() as "https" | "http") : undefined;
  if (prefix) {
    rest = rest.slice(prefix[0].length);
    const slash = rest.indexOf("/");
    if (slash <= 0) throw new ReferenceError(`"${input}" names no repository after the registry: use ${scheme}://HOST[:PORT]/NAME[:TAG]`);
  }
  let digest: Digest | undefined;
  const at = rest.indexOf("@");
  if (at >= 0) {
    try {
      digest = parseDigest(rest.slice(at + 1)).digest;
    } catch (cause) {
      throw new ReferenceError(`invalid digest in "${input}": ${(cause as Error).message}`, { cause });
    }
    rest = rest.slice(0, at);
  }
  let registry = DOCKER_HUB;
  const slash = rest.indexOf("/");
  if (slash > 0) {
    const head = rest.slice(0, slash);
    if (scheme || head.includes(".") || head.includes(":") || head === "localhost") {
      registry = head;
      rest = rest.slice(slash + 1);
    }
  }
  let tagText: string | undefined;
  const lastSlash = rest.lastIndexOf("/");
  const colon = rest.indexOf(":", lastSlash + 1);
  const plus = rest.indexOf("+", lastSlash + 1);
  if (colon >= 0) {
    tagText = rest.slice(colon + 1);
    rest = rest.slice(0, colon);
  } else if (plus >= 0) {
    // `img+0.0.1.1`: a partition of `latest`.
    tagText = `latest${rest.slice(plus)}`;
    rest = rest.slice(0, plus);
  }
  if (registry === DOCKER_HUB && !rest.includes("/")) rest = `library/${rest}`;
  if (!isRepositoryName(rest)) {
    throw new ReferenceError(`invalid repository name "${rest}" in "${input}": use lowercase letters, digits and . _ - /`);
  }
  const ref: ImageReference = { registry, repository: rest };
  if (scheme) ref.scheme = scheme;
  if (digest) ref.digest = digest;
  if (tagText !== undefined) {
    let partition;
    try {
      partition = parseTagPartition(tagText);
    } catch (cause) {
      throw new ReferenceError((cause as Error).message, { cause });
    }
    const tag = partition ? partition.baseTag : tagText;
    if (!TAG_PATTERN.test(tag)) throw new ReferenceError(`invalid tag "${tag}" in "${input}"`);
    ref.tag = tag;
    if (partition) ref.rects = partition.rects;
  } else if (!digest) {
    ref.tag = "latest";
  }
  return ref;
}

/** The full reference string, with the partition suffix in its `--` form (and the scheme when one was given). */
export function toReferenceString(ref: ImageReference): string {
  let out = `${ref.scheme ? `${ref.scheme}://` : ""}${ref.registry}/${ref.repository}`;
  if (ref.tag !== undefined) out += `:${ref.tag}${ref.rects ? toPartitionSuffix(ref.rects) : ""}`;
  if (ref.digest) out += `@${ref.digest}`;
  return out;
}

/** Short form for display: drops docker.io and library/ as Docker does. */
export function toFamiliarString(ref: ImageReference): string {
  let repo = ref.repository;
  if (ref.registry === DOCKER_HUB) repo = repo.startsWith("library/") ? repo.slice(8) : repo;
  else repo = `${ref.registry}/${repo}`;
  let out = repo;
  if (ref.tag !== undefined) out += `:${ref.tag}${ref.rects ? toPartitionSuffix(ref.rects) : ""}`;
  if (ref.digest) out += `@${ref.digest}`;
  return out;
}

/** The tag or digest a registry's /manifests/ path takes for this reference. */
export function manifestPathReference(ref: ImageReference): string {
  if (ref.digest) return ref.digest;
  return `${ref.tag ?? "latest"}${ref.rects ? toPartitionSuffix(ref.rects) : ""}`;
}
