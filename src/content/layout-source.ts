/** Reads another OCI image layout directory (`oci:DIR[:TAG]`) as a source of images. */
import { readFile, stat } from "node:fs/promises";
import { join } from "node:path";
import { Annotation } from "../oci/annotations.ts";
import type { Descriptor } from "../oci/descriptor.ts";
import { type Digest, parseDigest } from "../oci/digest.ts";
import { JsonShapeError, isObject, parseJsonBytes } from "../oci/json.ts";
import type { ImageIndex } from "../oci/manifest.ts";
import { sha256Bytes } from "../hash/sha256.ts";
import type { FileSource } from "./copy-graph.ts";
import { BlobIntegrityError, NotInStoreError } from "./layout-store.ts";

/** Splits `oci:DIR[:TAG]` into its folder and tag. */
export function parseLayoutReference(input: string): { dir: string; tag?: string } {
  const rest = input.slice("oci:".length);
  const colon = rest.lastIndexOf(":");
  if (colon > 0 && !rest.slice(colon + 1).includes("/")) return { dir: rest.slice(0, colon), tag: rest.slice(colon + 1) };
  return { dir: rest };
}

/** A layout folder as a blob source, with tag resolution. */
export interface LayoutSource extends FileSource {
  resolve(tag?: string): Promise<Descriptor>;
}

/** Opens an OCI layout folder for reading. */
export function openLayoutSource(dir: string): LayoutSource {
  const path = (digest: Digest) => {
    const { algorithm, hex } = parseDigest(digest);
    return join(dir, "blobs", algorithm, hex);
  };
  return {
    async readBlob(digest, maxBytes = 64 * 1024 * 1024) {
      const info = await stat(path(digest)).catch(() => undefined);
      if (!info) throw new NotInStoreError(`blob ${digest} is missing from the layout ${dir}`);
      if (info.size > maxBytes) throw new BlobIntegrityError(`blob ${digest} in ${dir} is over ${maxBytes} bytes`);
      const bytes = new Uint8Array(await readFile(path(digest)));
      if (digest.startsWith("sha256:") && sha256Bytes(bytes) !== digest) throw new BlobIntegrityError(`blob ${digest} in ${dir} is corrupt`);
      return bytes;
    },
    async blobFile(digest) {
      if (!(await stat(path(digest)).catch(() => undefined))) throw new NotInStoreError(`blob ${digest} is missing from the layout ${dir}`);
      return path(digest);
    },
    async resolve(tag) {
      const text = await readFile(join(dir, "index.json")).catch(() => undefined);
      if (!text) throw new NotInStoreError(`${dir} is not an OCI image layout (no index.json)`);
      const index = parseJsonBytes(new Uint8Array(text), join(dir, "index.json"));
      if (!isObject(index) || !Array.isArray(index.manifests)) throw new JsonShapeError(`${join(dir, "index.json")}: not an image index`);
      const manifests = (index as unknown as ImageIndex).manifests;
      if (tag === undefined) {
        if (manifests.length === 1) return manifests[0]!;
        tag = "latest";
      }
      const found = manifests.find((d) => d.annotations?.[Annotation.refName] === tag);
      if (!found) {
        const names = manifests.map((d) => d.annotations?.[Annotation.refName]).filter(Boolean);
        throw new NotInStoreError(`no image tagged "${tag}" in ${dir} (tags: ${names.join(", ") || "none"})`);
      }
      return found;
    },
  };
}
