/**
 * Partitions served on demand: `tag--x1.y1.x2.y2[--...]` (or the paper's `+` form) is
 * resolved against the base tag and turned into an ordinary image by the pure functions of
 * src/field. Everything expensive is cached by digest (parsed configs, parsed fields,
 * allotment sizes and media types, whole results), so a repeated request costs a map lookup.
 */
import { EmptySelectionError, FieldFormatError, selectAllotments, selectNonEmpty } from "../../field/field.ts";
import { findNativeField, isNativeField } from "../../field/native-format.ts";
import { type PartitionResult, type ResolvedCell, partitionIndex, partitionNative, partitionReference } from "../../field/partition.ts";
import { MAX_FIELD_BLOB_BYTES, type ReferenceCell, findReferenceFieldLayer, parseReferenceField } from "../../field/reference-format.ts";
import { sha256Bytes } from "../../hash/sha256.ts";
import { type ImageConfig, parseImageConfig } from "../../oci/config.ts";
import type { Descriptor } from "../../oci/descriptor.ts";
import type { Digest } from "../../oci/digest.ts";
import { OciError } from "../../oci/errors.ts";
import type { ImageManifest, ParsedManifest } from "../../oci/manifest.ts";
import { isImageManifestType } from "../../oci/media-types.ts";
import { PartitionSuffixError, type Rect, WHOLE_FIELD, parseTagPartition, toPartitionSuffix } from "../../oci/partition-suffix.ts";
import type { StorageDriver } from "../driver/driver.ts";
import { createLru } from "../storage/lru.ts";
import { blobDataPath } from "../storage/paths.ts";
import { sniffLayerMediaType } from "../storage/sniff-layer.ts";
import type { BlobService } from "./blobs.ts";
import type { DerivedStore, ServedDoc } from "./derived-store.ts";
import type { ManifestService } from "./manifests.ts";

/** The partition operations. */
export interface PartitionService {
  /**
   * The partition a reference names, or undefined when the reference carries no suffix.
   * Throws MANIFEST_UNKNOWN with a detail for malformed suffixes, empty selections and
   * images without a field.
   */
  resolve(name: string, reference: string): Promise<ServedDoc | undefined>;
  /** A generated document (manifest, index or config) by digest, regenerated when evicted. */
  derived(name: string, digest: Digest): Promise<ServedDoc | undefined>;
  /**
   * What the plain tag of `stored` is served as: for an image in the reference format, its whole
   * field flattened (the field blob is not a layer a runtime can apply, and its config lists no
   * allotment); undefined for every other image, which is served as stored.
   */
  wholeReferenceField(name: string, stored: { digest: Digest; parsed: ParsedManifest }): Promise<ServedDoc | undefined>;
}

interface Generated {
  top: ServedDoc;
  docs: ServedDoc[];
}

const sha256 = { sha256: sha256Bytes };

/** Creates the partition service. */
export function createPartitionService(deps: {
  driver: StorageDriver;
  blobs: BlobService;
  manifests: ManifestService;
  derived: DerivedStore;
}): PartitionService {
  const { driver, blobs, manifests, derived } = deps;
  const results = createLru<string, Generated>({ maxEntries: 2048, maxWeight: 128 << 20, weigh: weighGenerated });
  const inFlight = new Map<string, Promise<Generated>>();
  const configs = createLru<Digest, ImageConfig>({ maxEntries: 1024 });
  const fields = createLru<Digest, ReferenceCell[]>({ maxEntries: 64, maxWeight: 2_000_000, weigh: (c) => c.length });
  const cellInfo = createLru<Digest, { size: number; mediaType: string }>({ maxEntries: 200_000 });

  const loadConfig = async (digest: Digest): Promise<ImageConfig> => {
    const hit = configs.get(digest);
    if (hit) return hit;
    const bytes = await blobs.read(digest);
    if (!bytes) throw new OciError("MANIFEST_UNKNOWN", `the image config ${digest} is missing from storage`);
    const config = parseImageConfig(bytes);
    configs.set(digest, config);
    return config;
  };

  const loadField = async (descriptor: Descriptor): Promise<ReferenceCell[]> => {
    const hit = fields.get(descriptor.digest);
    if (hit) return hit;
    const stat = await blobs.statData(descriptor.digest);
    if (!stat) throw new OciError("MANIFEST_UNKNOWN", `the 2DFS field blob ${descriptor.digest} is missing from storage`);
    // Checked before reading, so a hostile field blob is never read whole into memory.
    if (stat.size > MAX_FIELD_BLOB_BYTES) {
      throw new FieldFormatError(`2dfs field blob is ${stat.size} bytes, over the ${MAX_FIELD_BLOB_BYTES} byte limit`);
    }
    const cells = parseReferenceField((await blobs.read(descriptor.digest))!);
    fields.set(descriptor.digest, cells);
    return cells;
  };

  const resolveCell = async (name: string, cell: ReferenceCell): Promise<ResolvedCell> => {
    let info = cellInfo.get(cell.digest);
    if (!info) {
      const stat = await blobs.stat(name, cell.digest);
      if (!stat) throw new OciError("MANIFEST_UNKNOWN", `allotment (${cell.row}, ${cell.col}) blob ${cell.digest} is not in ${name}`);
      const head = new Uint8Array(await new Response(driver.reader(blobDataPath(cell.digest), 0, Math.min(4, stat.size))).arrayBuffer());
      info = { size: stat.size, mediaType: sniffLayerMediaType(head) };
      cellInfo.set(cell.digest, info);
    }
    return { ...cell, ...info };
  };

  // One platform manifest: its partition, or undefined when it carries no field.
  const partitionImage = async (name: string, manifest: ImageManifest, rects: Rect[]): Promise<PartitionResult | undefined> => {
    if (isNativeField(manifest)) return partitionNative(manifest, await loadConfig(manifest.config.digest), rects, sha256);
    const at = findReferenceFieldLayer(manifest);
    if (at < 0) {
      // No field annotations (a `docker push` of a pulled field writes Docker schema 2, which has
      // none): the config history 2dfs wrote still names the allotments.
      // An entry whose config is missing or not an image config (e.g. an attestation) has no field.
      const config = await loadConfig(manifest.config.digest).catch(() => undefined);
      return config && findNativeField(manifest, config) ? partitionNative(manifest, config, rects, sha256) : undefined;
    }
    const cells = await loadField(manifest.layers[at]!);
    const chosen = selectAllotments(cells, rects);
    if (chosen.length === 0) selectNonEmpty(cells, rects);
    const resolved = await Promise.all(chosen.map((c) => resolveCell(name, c)));
    return partitionReference(manifest, await loadConfig(manifest.config.digest), resolved, rects, sha256);
  };

  const imageDocs = (result: PartitionResult, mediaType: string): { top: ServedDoc; docs: ServedDoc[] } => {
    const top = { digest: sha256Bytes(result.manifestBytes), mediaType, bytes: result.manifestBytes };
    const config = { digest: result.manifest.config.digest, mediaType: result.manifest.config.mediaType, bytes: result.configBytes };
    return { top, docs: [top, config] };
  };

  const generate = async (name: string, base: { digest: Digest; parsed: ParsedManifest }, rects: Rect[]): Promise<Generated> => {
    const notField = () =>
      new OciError("MANIFEST_UNKNOWN", `partition suffix on an image that is not a 2DFS image: ${base.digest} in ${name} has no field`);
    const { parsed } = base;
    if (parsed.kind === "image") {
      const result = await partitionImage(name, parsed.manifest, rects);
      if (!result) throw notField();
      return imageDocs(result, parsed.mediaType);
    }
    const docs: ServedDoc[] = [];
    const replacements = new Map<Digest, Descriptor>();
    let sawField = false;
    let emptyDetail: string | undefined;
    for (const entry of parsed.manifest.manifests) {
      if (!isImageManifestType(entry.mediaType) || replacements.has(entry.digest)) continue;
      const child = await manifests.getByDigest(name, entry.digest);
      if (!child || child.parsed.kind !== "image") continue;
      try {
        const result = await partitionImage(name, child.parsed.manifest, rects);
        if (!result) continue;
        sawField = true;
        const made = imageDocs(result, child.parsed.mediaType);
        docs.push(...made.docs);
        replacements.set(entry.digest, { mediaType: made.top.mediaType, digest: made.top.digest, size: made.top.bytes.byteLength });
      } catch (e) {
        if (!(e instanceof EmptySelectionError)) throw e;
        sawField = true;
        emptyDetail ??= e.message;
      }
    }
    if (!sawField) throw notField();
    // Entries without a field (e.g. attestations naming the full image) are left out.
    if (replacements.size === 0) throw new EmptySelectionError(emptyDetail ?? "no platform has allotments in the selection");
    const { bytes } = partitionIndex(parsed.manifest, (d) => replacements.get(d.digest));
    const top = { digest: sha256Bytes(bytes), mediaType: parsed.mediaType, bytes };
    return { top, docs: [top, ...docs] };
  };

  // Every repository that derives a document may fetch it by digest; recording an already
  // recorded one is a map lookup, so it is done on every resolve, cached results included.
  const record = async (name: string, base: Digest, rects: Rect[], made: Generated) => {
    for (const doc of made.docs) await derived.put(doc, { name, base, rects, mediaType: doc.mediaType });
  };

  const generateCached = async (name: string, base: { digest: Digest; parsed: ParsedManifest }, rects: Rect[]): Promise<Generated> => {
    const key = `${name}\0${base.digest}\0${toPartitionSuffix(rects)}`;
    const hit = results.get(key);
    if (hit) return hit;
    let pending = inFlight.get(key);
    if (!pending) {
      pending = (async () => {
        try {
          const made = await generate(name, base, rects);
          await record(name, base.digest, rects, made);
          results.set(key, made);
          return made;
        } finally {
          inFlight.delete(key);
        }
      })();
      inFlight.set(key, pending);
    }
    return pending;
  };

  // Whether a stored manifest (or any image of an index) is in the reference format, by digest.
  const referenceFormat = createLru<Digest, boolean>({ maxEntries: 4096 });
  const isReferenceFormat = async (name: string, stored: { digest: Digest; parsed: ParsedManifest }): Promise<boolean> => {
    const known = referenceFormat.get(stored.digest);
    if (known !== undefined) return known;
    let found = false;
    if (stored.parsed.kind === "image") found = findReferenceFieldLayer(stored.parsed.manifest) >= 0;
    else {
      for (const entry of stored.parsed.manifest.manifests) {
        if (!isImageManifestType(entry.mediaType)) continue;
        const child = await manifests.getByDigest(name, entry.digest);
        if (child?.parsed.kind === "image" && findReferenceFieldLayer(child.parsed.manifest) >= 0) found = true;
      }
    }
    referenceFormat.set(stored.digest, found);
    return found;
  };

  const translate = (e: unknown): never => {
    if (e instanceof EmptySelectionError) throw new OciError("MANIFEST_UNKNOWN", `empty partition: ${e.message}`);
    if (e instanceof FieldFormatError) throw new OciError("MANIFEST_UNKNOWN", `the stored 2DFS field is malformed: ${e.message}`);
    throw e;
  };

  return {
    async resolve(name, reference) {
      let partition;
      try {
        partition = parseTagPartition(reference);
      } catch (e) {
        if (e instanceof PartitionSuffixError) throw new OciError("MANIFEST_UNKNOWN", `malformed partition suffix: ${e.message}`);
        throw e;
      }
      if (!partition) return undefined;
      const base = await manifests.resolve(name, partition.baseTag);
      if (!base) {
        throw new OciError("MANIFEST_UNKNOWN", `tag "${partition.baseTag}" (the base of partition "${reference}") is not in ${name}`);
      }
      let made: Generated;
      try {
        made = await generateCached(name, base, partition.rects);
      } catch (e) {
        return translate(e);
      }
      await record(name, base.digest, partition.rects, made);
      return made.top;
    },
    async wholeReferenceField(name, stored) {
      if (!(await isReferenceFormat(name, stored))) return undefined;
      const rects = [...WHOLE_FIELD];
      let made: Generated;
      try {
        made = await generateCached(name, stored, rects);
      } catch (e) {
        return translate(e);
      }
      await record(name, stored.digest, rects, made);
      return made.top;
    },
    async derived(name, digest) {
      const found = await derived.get(digest, name);
      if (!found) return undefined;
      if (found.doc) return found.doc;
      const base = await manifests.getByDigest(name, found.recipe.base);
      if (!base) return undefined;
      try {
        const made = await generateCached(name, base, found.recipe.rects);
        return made.docs.find((d) => d.digest === digest);
      } catch {
        return undefined;
      }
    },
  };
}

function weighGenerated(g: Generated): number {
  return g.docs.reduce((n, d) => n + d.bytes.byteLength, 0);
}
