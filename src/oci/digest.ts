/** Content digests (`algorithm:hex`), as the OCI image spec defines them. */

export type Digest = `${string}:${string}`;

export const DigestAlgorithm = { sha256: "sha256", sha512: "sha512" } as const;
export type DigestAlgorithm = (typeof DigestAlgorithm)[keyof typeof DigestAlgorithm];

/** Every supported algorithm, the canonical one (sha256) first. */
export const DIGEST_ALGORITHMS: readonly DigestAlgorithm[] = [DigestAlgorithm.sha256, DigestAlgorithm.sha512];

const HEX_LENGTH: Record<DigestAlgorithm, number> = { sha256: 64, sha512: 128 };

/** Thrown when a string is not a well-formed digest of a supported algorithm. */
export class DigestError extends Error {
  override name = "DigestError";
}

/** A parsed digest: the algorithm and its lowercase hex encoding. */
export interface ParsedDigest {
  algorithm: DigestAlgorithm;
  hex: string;
  digest: Digest;
}

/** Parses an untrusted `algorithm:hex` string; only sha256 and sha512 are accepted. */
export function parseDigest(input: string): ParsedDigest {
  const colon = input.indexOf(":");
  if (colon <= 0) throw new DigestError(`invalid digest "${truncate(input)}": expected algorithm:hex`);
  const algorithm = input.slice(0, colon);
  const hex = input.slice(colon + 1);
  if (algorithm !== "sha256" && algorithm !== "sha512") {
    throw new DigestError(`unsupported digest algorithm "${truncate(algorithm)}" (sha256 or sha512)`);
  }
  const length = HEX_LENGTH[algorithm];
  if (hex.length !== length || !/^[0-9a-f]+$/.test(hex)) {
    throw new DigestError(`invalid ${algorithm} digest: expected ${length} lowercase hex characters`);
  }
  return { algorithm, hex, digest: input as Digest };
}

/** True when `input` is a well-formed sha256 or sha512 digest. */
export function isDigest(input: unknown): input is Digest {
  if (typeof input !== "string") return false;
  try {
    parseDigest(input);
    return true;
  } catch {
    return false;
  }
}

/** `sha256:<hex>` from a bare hex string (as the reference field format stores them). */
export function toSha256Digest(hex: string): Digest {
  return parseDigest(`sha256:${hex}`).digest;
}

/** The hex part of a digest. */
export function digestHex(digest: Digest): string {
  return digest.slice(digest.indexOf(":") + 1);
}

function truncate(s: string): string {
  return s.length > 80 ? `${s.slice(0, 77)}...` : s;
}
