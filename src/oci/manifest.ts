/** Image manifests and indexes parsed from raw bytes, with the bytes kept beside them. */
import { type Descriptor, parseDescriptor } from "./descriptor.ts";
import { JsonShapeError, isObject, isStringMap, parseJsonBytes } from "./json.ts";
import { MediaType, isImageManifestType, isIndexType } from "./media-types.ts";

/** An image manifest (OCI or Docker schema 2); unknown fields are kept. */
export interface ImageManifest {
  schemaVersion: 2;
  mediaType?: string;
  artifactType?: string;
  config: Descriptor;
  layers: Descriptor[];
  subject?: Descriptor;
  annotations?: Record<string, string>;
  [extra: string]: unknown;
}

/** An image index (OCI) or manifest list (Docker); unknown fields are kept. */
export interface ImageIndex {
  schemaVersion: 2;
  mediaType?: string;
  artifactType?: string;
  manifests: Descriptor[];
  subject?: Descriptor;
  annotations?: Record<string, string>;
  [extra: string]: unknown;
}

/** A manifest as stored: its exact bytes, its media type, and the parsed document. */
export type ParsedManifest =
  | { kind: "image"; mediaType: string; bytes: Uint8Array; manifest: ImageManifest }
  | { kind: "index"; mediaType: string; bytes: Uint8Array; manifest: ImageIndex };

/** The largest manifest a registry accepts or a client reads (the spec suggests 4 MiB). */
export const MAX_MANIFEST_BYTES = 4 * 1024 * 1024;

/**
 * Parses and validates manifest bytes. The media type comes from the document or, for
 * documents that omit it, from `declaredType` (a Content-Type header or a descriptor).
 */
export function parseManifest(bytes: Uint8Array, declaredType?: string): ParsedManifest {
  if (bytes.byteLength > MAX_MANIFEST_BYTES) {
    throw new JsonShapeError(`manifest is ${bytes.byteLength} bytes, over the ${MAX_MANIFEST_BYTES} byte limit`);
  }
  const doc = parseJsonBytes(bytes, "manifest");
  if (!isObject(doc)) throw new JsonShapeError("manifest: must be a JSON object");
  if (doc.schemaVersion !== 2) throw new JsonShapeError("manifest.schemaVersion: must be 2");
  if (doc.mediaType !== undefined && typeof doc.mediaType !== "string") {
    throw new JsonShapeError("manifest.mediaType: must be a string");
  }
  if (typeof doc.mediaType === "string" && declaredType && isKnownManifestType(declaredType) && doc.mediaType !== declaredType) {
    throw new JsonShapeError(`manifest.mediaType "${doc.mediaType}" does not match the declared type "${declaredType}"`);
  }
  const mediaType = (doc.mediaType as string | undefined) ?? guessType(doc, declaredType);
  if (doc.annotations !== undefined && !isStringMap(doc.annotations)) {
    throw new JsonShapeError("manifest.annotations: must map strings to strings");
  }
  if (doc.subject !== undefined) parseDescriptor(doc.subject, "manifest.subject");
  if (isIndexType(mediaType)) {
    if (!Array.isArray(doc.manifests)) throw new JsonShapeError("index.manifests: must be a list");
    doc.manifests.forEach((d, i) => parseDescriptor(d, `manifests[${i}]`));
    return { kind: "index", mediaType, bytes, manifest: doc as unknown as ImageIndex };
  }
  if (isImageManifestType(mediaType)) {
    parseDescriptor(doc.config, "config");
    if (!Array.isArray(doc.layers)) throw new JsonShapeError("manifest.layers: must be a list");
    doc.layers.forEach((d, i) => parseDescriptor(d, `layers[${i}]`));
    return { kind: "image", mediaType, bytes, manifest: doc as unknown as ImageManifest };
  }
  throw new JsonShapeError(`unsupported manifest media type "${mediaType}"`);
}

function isKnownManifestType(type: string): boolean {
  return isIndexType(type) || isImageManifestType(type);
}

// OCI allows mediaType to be absent; the shape and the declared type tell which it is.
function guessType(doc: Record<string, unknown>, declaredType: string | undefined): string {
  if (declaredType && isKnownManifestType(declaredType)) return declaredType;
  if (Array.isArray(doc.manifests)) return MediaType.ociIndex;
  if (doc.config !== undefined) return MediaType.ociManifest;
  throw new JsonShapeError("manifest: no mediaType and neither \"manifests\" nor \"config\"");
}

/** Serialises a manifest document as compact JSON bytes. */
export function toManifestBytes(manifest: ImageManifest | ImageIndex): Uint8Array {
  return new TextEncoder().encode(JSON.stringify(manifest));
}
