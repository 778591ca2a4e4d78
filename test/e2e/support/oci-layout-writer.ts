/** Writes blobs and the top-level files of an OCI image layout, for test fixtures only. */
import { createHash } from "node:crypto";
import { mkdir, writeFile } from "node:fs/promises";
import { join } from "node:path";

/** A content descriptor as the OCI image spec spells it. */
export interface FixtureDescriptor {
  mediaType: string;
  digest: string;
  size: number;
  annotations?: Record<string, string>;
  platform?: { architecture: string; os: string };
}

/** "sha256:<hex>" of the bytes, computed with node:crypto (independent of src/hash). */
export function toSha256Digest(bytes: Uint8Array): string {
  return `sha256:${createHash("sha256").update(bytes).digest("hex")}`;
}

/** Stores bytes under blobs/sha256/ and returns their descriptor. */
export async function writeBlob(layoutDir: string, mediaType: string, bytes: Uint8Array): Promise<FixtureDescriptor> {
  const digest = toSha256Digest(bytes);
  const blobDir = join(layoutDir, "blobs", "sha256");
  await mkdir(blobDir, { recursive: true });
  await writeFile(join(blobDir, digest.slice("sha256:".length)), bytes);
  return { mediaType, digest, size: bytes.length };
}

/** Stores a JSON document as a blob (compact, key order as given, so the digest is reproducible). */
export function writeJsonBlob(layoutDir: string, mediaType: string, value: unknown): Promise<FixtureDescriptor> {
  return writeBlob(layoutDir, mediaType, new TextEncoder().encode(JSON.stringify(value)));
}

/** Writes oci-layout and index.json listing `manifests`. */
export async function writeLayoutIndex(layoutDir: string, manifests: readonly FixtureDescriptor[]): Promise<void> {
  await mkdir(layoutDir, { recursive: true });
  await writeFile(join(layoutDir, "oci-layout"), JSON.stringify({ imageLayoutVersion: "1.0.0" }));
  await writeFile(
    join(layoutDir, "index.json"),
    JSON.stringify({ schemaVersion: 2, mediaType: "application/vnd.oci.image.index.v1+json", manifests }),
  );
}
