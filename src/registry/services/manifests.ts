/** Manifests of a repository: stored as blobs, linked as revisions, named by tags. */
import { sha256Bytes } from "../../hash/sha256.ts";
import type { Descriptor } from "../../oci/descriptor.ts";
import { DIGEST_ALGORITHMS, type Digest, type DigestAlgorithm, DigestError, isDigest, parseDigest } from "../../oci/digest.ts";
import { OciError } from "../../oci/errors.ts";
import { JsonShapeError } from "../../oci/json.ts";
import { MAX_MANIFEST_BYTES, type ParsedManifest, parseManifest } from "../../oci/manifest.ts";
import { MANIFEST_MEDIA_TYPES } from "../../oci/media-types.ts";
import { TAG_PATTERN } from "../../oci/partition-suffix.ts";
import type { StorageDriver } from "../driver/driver.ts";
import { createLru } from "../storage/lru.ts";
import { blobDataPath, revisionLinkPath, revisionsDir } from "../storage/paths.ts";
import type { BlobService } from "./blobs.ts";
import type { ReferrerService } from "./referrers.ts";
import type { TagService } from "./tags.ts";

/** A manifest as served: digest, exact bytes and parsed form. */
export interface StoredManifest {
  digest: Digest;
  parsed: ParsedManifest;
}

/** A stored manifest and the tags that now name it. */
export interface PutManifest extends StoredManifest {
  tags: string[];
}

/** The manifest operations. */
export interface ManifestService {
  /** A manifest linked into `name`, by digest. */
  getByDigest(name: string, digest: Digest): Promise<StoredManifest | undefined>;
  /** A manifest by tag or digest; undefined when unknown. */
  resolve(name: string, reference: string): Promise<StoredManifest | undefined>;
  /**
   * Validates and stores a manifest. A push by digest may name tags (the spec's `?tag=`),
   * which are all checked before anything is stored; a push by tag names just that tag.
   */
  put(name: string, reference: string, bytes: Uint8Array, contentType: string | undefined, tagParams?: readonly string[]): Promise<PutManifest>;
  /** Deletes a tag (the manifest stays) or, by digest, the manifest and every tag naming it. */
  delete(name: string, reference: string): Promise<void>;
  /** Every manifest digest linked into a repository. */
  revisions(name: string): Promise<Digest[]>;
  /** Parses stored manifest bytes (cached by digest; stored content never changes). */
  load(digest: Digest, declaredType?: string): Promise<ParsedManifest | undefined>;
}

/** Digest of bytes with the given algorithm. */
export function digestBytes(bytes: Uint8Array, algorithm: DigestAlgorithm): Digest {
  if (algorithm === "sha256") return sha256Bytes(bytes);
  return `${algorithm}:${new Bun.CryptoHasher(algorithm).update(bytes).digest("hex")}`;
}

// Tags never contain ':', so a reference with one is a digest, or a malformed or unsupported one.
function parseDigestReference(reference: string): Digest | undefined {
  if (!reference.includes(":")) return undefined;
  try {
    return parseDigest(reference).digest;
  } catch (e) {
    if (e instanceof DigestError) throw new OciError("DIGEST_INVALID", `manifest reference: ${e.message}`);
    throw e;
  }
}

function checkTagParams(reference: string, byDigest: boolean, tagParams: readonly string[]): string[] {
  if (tagParams.length === 0) return [];
  if (!byDigest) {
    throw new OciError("MANIFEST_INVALID", `tag parameters come with a PUT by digest, not by tag "${reference}"; put the manifest by its digest`);
  }
  for (const tag of tagParams) {
    if (!TAG_PATTERN.test(tag)) {
      throw new OciError("MANIFEST_INVALID", `tag parameter "${tag.slice(0, 140)}" is not a valid tag: up to 128 of letters, digits and . _ -, not starting with . or -`);
    }
  }
  return [...new Set(tagParams)];
}

/** Creates the manifest service. */
export function createManifestService(driver: StorageDriver, blobs: BlobService, tags: TagService, referrers: ReferrerService): ManifestService {
  const cache = createLru<Digest, ParsedManifest>({ maxEntries: 4096, maxWeight: 64 << 20, weigh: (p) => p.bytes.byteLength });

  const load = async (digest: Digest, declaredType?: string): Promise<ParsedManifest | undefined> => {
    const hit = cache.get(digest);
    if (hit) return hit;
    const bytes = await driver.read(blobDataPath(digest));
    if (!bytes) return undefined;
    const parsed = parseManifest(bytes, declaredType);
    cache.set(digest, parsed);
    return parsed;
  };

  const getByDigest = async (name: string, digest: Digest): Promise<StoredManifest | undefined> => {
    const link = await driver.read(revisionLinkPath(name, digest));
    if (!link) return undefined;
    const parsed = await load(digest, new TextDecoder().decode(link) || undefined);
    return parsed && { digest, parsed };
  };

  const checkReferences = async (name: string, parsed: ParsedManifest) => {
    const missing = async (d: Descriptor, where: string) => {
      if (MANIFEST_MEDIA_TYPES.includes(d.mediaType) || parsed.kind === "index") {
        if (await driver.stat(revisionLinkPath(name, d.digest))) return;
        if (parsed.kind === "index" && (await blobs.stat(name, d.digest))) return;
        throw new OciError("MANIFEST_BLOB_UNKNOWN", `${where} ${d.digest} is not a manifest in ${name}; push it first`);
      }
      if (!(await blobs.stat(name, d.digest))) {
        throw new OciError("MANIFEST_BLOB_UNKNOWN", `${where} ${d.digest} is not a blob in ${name}; upload it first`);
      }
    };
    if (parsed.kind === "index") {
      for (const [i, d] of parsed.manifest.manifests.entries()) await missing(d, `manifests[${i}]`);
      return;
    }
    await missing(parsed.manifest.config, "config");
    for (const [i, d] of parsed.manifest.layers.entries()) {
      // Foreign layers (with urls) live elsewhere by design.
      if (d.urls?.length) continue;
      await missing(d, `layers[${i}]`);
    }
  };

  // A client that pushed these bytes by a sha512 digest chose that algorithm: a later push by
  // tag keeps it, so the tag and the answer name the digest the client knows.
  const digestForTag = async (name: string, bytes: Uint8Array): Promise<Digest> => {
    const sha256 = digestBytes(bytes, "sha256");
    if (await driver.stat(revisionLinkPath(name, sha256))) return sha256;
    for (const algorithm of DIGEST_ALGORITHMS) {
      if (algorithm === "sha256") continue;
      const other = digestBytes(bytes, algorithm);
      if (await driver.stat(revisionLinkPath(name, other))) return other;
    }
    return sha256;
  };

  return {
    getByDigest,
    load,
    async resolve(name, reference) {
      if (isDigest(reference)) return getByDigest(name, reference);
      if (!TAG_PATTERN.test(reference)) return undefined;
      const digest = await tags.resolve(name, reference);
      return digest && getByDigest(name, digest);
    },
    async put(name, reference, bytes, contentType, tagParams = []) {
      const claimed = parseDigestReference(reference);
      const byDigest = claimed !== undefined;
      if (!byDigest && !TAG_PATTERN.test(reference)) {
        throw new OciError("MANIFEST_INVALID", `"${reference}" is neither a valid tag nor a digest`);
      }
      const extraTags = checkTagParams(reference, byDigest, tagParams);
      const newTags = byDigest ? extraTags : [reference];
      if (bytes.byteLength > MAX_MANIFEST_BYTES) {
        throw new OciError("MANIFEST_INVALID", `manifest is ${bytes.byteLength} bytes, over the ${MAX_MANIFEST_BYTES} byte limit`, { status: 413 });
      }
      const digest = claimed ? digestBytes(bytes, parseDigest(claimed).algorithm) : await digestForTag(name, bytes);
      if (claimed && digest !== claimed) {
        throw new OciError("DIGEST_INVALID", `manifest content hashes to ${digest}, not ${reference}`);
      }
      let parsed: ParsedManifest;
      try {
        parsed = parseManifest(bytes, contentType?.split(";")[0]?.trim() || undefined);
      } catch (e) {
        if (e instanceof JsonShapeError) throw new OciError("MANIFEST_INVALID", e.message);
        throw e;
      }
      await checkReferences(name, parsed);
      if (!(await driver.stat(blobDataPath(digest)))) await driver.write(blobDataPath(digest), bytes);
      await driver.write(revisionLinkPath(name, digest), new TextEncoder().encode(parsed.mediaType));
      cache.set(digest, parsed);
      await referrers.add(name, digest, parsed);
      for (const tag of newTags) await tags.set(name, tag, digest);
      return { digest, parsed, tags: newTags };
    },
    async delete(name, reference) {
      if (!isDigest(reference)) {
        if (!(await tags.remove(name, reference))) throw new OciError("MANIFEST_UNKNOWN", `tag "${reference}" is not in ${name}`);
        return;
      }
      const stored = await getByDigest(name, reference);
      if (!stored) throw new OciError("MANIFEST_UNKNOWN", `manifest ${reference} is not in ${name}`);
      for (const tag of await tags.list(name)) {
        if ((await tags.resolve(name, tag)) === reference) await tags.remove(name, tag);
      }
      await referrers.remove(name, reference, stored.parsed);
      const link = revisionLinkPath(name, reference);
      await driver.delete(link.slice(0, -"/link".length));
    },
    async revisions(name) {
      const out: Digest[] = [];
      for (const algorithm of DIGEST_ALGORITHMS) {
        for (const hex of await driver.list(revisionsDir(name, algorithm))) {
          const d = `${algorithm}:${hex}`;
          if (isDigest(d)) out.push(d);
        }
      }
      return out;
    },
  };
}
