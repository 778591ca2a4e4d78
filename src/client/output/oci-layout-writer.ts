/** Writes an image plan as an OCI image layout folder (oci-layout, index.json, blobs/), blobs linked or copied from the store. */
import { linkSync, mkdirSync, writeFileSync } from "node:fs";
import { copyFile } from "node:fs/promises";
import { join } from "node:path";
import type { LayoutStore } from "../../content/layout-store.ts";
import { Annotation } from "../../oci/annotations.ts";
import type { Descriptor } from "../../oci/descriptor.ts";
import { type Digest, parseDigest } from "../../oci/digest.ts";
import type { ImageIndex } from "../../oci/manifest.ts";
import { MediaType } from "../../oci/media-types.ts";
import { sha256Bytes } from "../../hash/sha256.ts";
import type { ImagePlan } from "../planning/image-plan.ts";

/**
 * Writes `plan` as a layout in `dir` (an empty folder) under the name `refName`; returns the
 * manifest descriptor. Links and small documents are written synchronously: each takes
 * microseconds, and the first asynchronous call would start Bun's fs thread pool (3-7 ms) at
 * the end of every pull.
 */
export async function writeOciLayout(dir: string, store: LayoutStore, plan: ImagePlan, refName: string): Promise<Descriptor> {
  mkdirSync(join(dir, "blobs", "sha256"), { recursive: true });
  const put = async (bytes: Uint8Array): Promise<Digest> => {
    const digest = sha256Bytes(bytes);
    writeFileSync(blobPath(dir, digest), bytes);
    return digest;
  };
  for (const layer of [...plan.baseLayers, ...plan.allotments]) await placeBlob(store, dir, layer.digest);
  await put(plan.configBytes);
  const digest = await put(plan.manifestBytes);
  const descriptor: Descriptor = {
    mediaType: plan.manifest.mediaType ?? MediaType.ociManifest,
    digest,
    size: plan.manifestBytes.byteLength,
    platform: plan.platform,
    annotations: { [Annotation.refName]: refName },
  };
  const index: ImageIndex = { schemaVersion: 2, mediaType: MediaType.ociIndex, manifests: [descriptor] };
  writeFileSync(join(dir, "index.json"), JSON.stringify(index));
  writeFileSync(join(dir, "oci-layout"), JSON.stringify({ imageLayoutVersion: "1.0.0" }));
  return descriptor;
}

function blobPath(dir: string, digest: Digest): string {
  const { algorithm, hex } = parseDigest(digest);
  return join(dir, "blobs", algorithm, hex);
}

// A hard link costs nothing and blobs are immutable; fall back to a copy across filesystems.
async function placeBlob(store: LayoutStore, dir: string, digest: Digest): Promise<void> {
  const target = blobPath(dir, digest);
  try {
    linkSync(store.blobPath(digest), target);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === "EEXIST") return;
    await copyFile(store.blobPath(digest), target);
  }
}
