/**
 * Base image + 2dfs.json -> a 2DFS image in the local store. Everything that can be
 * wrong with the descriptor or its sources is checked before a single byte is written;
 * the image name is pointed at the result only once every blob is in place.
 */
import { readFileSync, statSync } from "node:fs";
import { rm } from "node:fs/promises";
import { dirname, resolve } from "node:path";
import type { LayoutStore } from "../content/layout-store.ts";
import type { LoadedImage, PlatformImage } from "../content/image-graph.ts";
import { type AllotmentSpec, parseFieldDescriptor } from "../field/descriptor-file.ts";
import { type Allotment, compareCells } from "../field/field.ts";
import { composeNative } from "../field/native-format.ts";
import { composeReference, MAX_FIELD_BLOB_BYTES, toReferenceFieldBytes } from "../field/reference-format.ts";
import { layerCountWarning } from "../field/partition.ts";
import { type LayerFile, planTarEntries } from "../archive/tar-entries.ts";
import type { Compression } from "../archive/compress.ts";
import { type AutoDecision, DEFAULT_MIN_SAVING } from "../archive/auto-compression.ts";
import { type AutoDecisions, recordAutoDecisions } from "./auto-decisions.ts";
import type { WorkerPool } from "../hash/pool.ts";
import { sha256Bytes } from "../hash/sha256.ts";
import { Annotation, TDFS_FORMAT_VERSION } from "../oci/annotations.ts";
import { hostPlatform } from "../oci/host-platform.ts";
import type { ImageConfig } from "../oci/config.ts";
import { type Descriptor, type Platform, platformMatches, toPlatformString } from "../oci/descriptor.ts";
import { type ImageIndex, MAX_MANIFEST_BYTES } from "../oci/manifest.ts";
import { layerCompressionOf, MediaType, ociLayerMediaType } from "../oci/media-types.ts";
import { type CachedLayer, createAllotmentCache } from "./allotment-cache.ts";
import { runBounded } from "../util/run-bounded.ts";
import { type ResolvedAllotment, resolveSources } from "./sources.ts";
import { checkDocumentSizes, type DocumentSize } from "./size-limits.ts";
import type { Digest } from "../oci/digest.ts";

/** What a build produces events about (the CLI renders them). */
export type BuildEvent =
  | { type: "warning"; message: string }
  | { type: "plan"; allotments: number; files: number; bytes: number }
  | {
      type: "allotment";
      row: number;
      col: number;
      status: "built" | "cached";
      digest: string;
      size: number;
      bytesRead: number;
      files: number;
      /** How the layer is stored. */
      compression: Compression;
      /** Bytes of its uncompressed tar. */
      tarSize: number;
      /** With `--compression auto`: the sample's predicted ratio and the decision. */
      auto?: AutoDecision;
    }
  | { type: "image"; name: string; digest: string; platforms: string[] };

/** The base to build on. */
export type BaseImage = { kind: "scratch"; platform?: Platform } | { kind: "image"; image: LoadedImage };

/** Options of one build. */
export interface BuildOptions {
  store: LayoutStore;
  /**
   * The layer workers, or a factory called only when some allotment is not cached, with how many
   * are not: a no-change rebuild starts no worker, and one changed allotment needs no second thread.
   */
  pool: WorkerPool | ((misses: number) => WorkerPool);
  descriptorPath: string;
  name: string;
  base: BaseImage;
  compression: Compression | "auto";
  /** `auto` only: the predicted saving (0-1) a layer must reach to be compressed; default DEFAULT_MIN_SAVING. */
  minSaving?: number;
  format: "native" | "reference";
  platforms?: Platform[];
  jobs: number;
  noCache: boolean;
  /** Read sources outside the descriptor's folder too (`--allow-outside-context`). */
  allowOutsideContext?: boolean;
  /** Timestamp written to configs and history; fixed so builds are reproducible. */
  created?: string;
  onEvent?: (event: BuildEvent) => void;
}

/** The outcome of a build. */
export interface BuildResult {
  descriptor: Descriptor;
  allotments: Allotment[];
  built: number;
  cached: number;
}

/** Reproducible by default: SOURCE_DATE_EPOCH when set, else 2000-01-01 (the tar mtime too). */
export function defaultCreated(): string {
  const epoch = Number(process.env.SOURCE_DATE_EPOCH);
  return new Date(Number.isFinite(epoch) && epoch > 0 ? epoch * 1000 : Date.UTC(2000, 0, 1)).toISOString().replace(".000Z", "Z");
}

/** A 2dfs.json larger than this is refused before it is read (a million allotments fit in far less). */
export const MAX_DESCRIPTOR_BYTES = 64 * 1024 * 1024;

/** Reads and validates a 2dfs.json, then resolves its sources (no writes). */
export async function planBuild(
  descriptorPath: string,
  opts: { allowOutsideContext?: boolean } = {},
): Promise<{ resolved: ResolvedAllotment[]; warnings: string[] }> {
  const path = resolve(descriptorPath);
  // Synchronous, like the source stats after it: a rebuild with nothing to do never starts Bun's
  // fs thread pool.
  const size = statSync(path, { throwIfNoEntry: false })?.size ?? 0;
  if (size > MAX_DESCRIPTOR_BYTES) {
    throw new Error(`${descriptorPath} is ${size} bytes, over the ${MAX_DESCRIPTOR_BYTES} byte limit for a field descriptor`);
  }
  let text: string;
  try {
    text = readFileSync(path, "utf8");
  } catch (cause) {
    throw new Error(`cannot read ${descriptorPath}: ${(cause as NodeJS.ErrnoException).code ?? cause}`, { cause });
  }
  const { allotments, warnings } = parseFieldDescriptor(text, descriptorPath);
  const resolved = await resolveSources(allotments, dirname(path), { fileName: descriptorPath, allowOutsideContext: opts.allowOutsideContext });
  return { resolved, warnings };
}

/** Builds the image and names it in the store. */
export async function buildImage(opts: BuildOptions): Promise<BuildResult> {
  const emit = opts.onEvent ?? (() => {});
  const { resolved, warnings } = await planBuild(opts.descriptorPath, { allowOutsideContext: opts.allowOutsideContext });
  for (const message of warnings) emit({ type: "warning", message });
  const created = opts.created ?? defaultCreated();
  const platforms = selectPlatforms(opts.base, opts.platforms, created);

  const cache = createAllotmentCache(opts.store);
  const minSaving = opts.minSaving ?? DEFAULT_MIN_SAVING;
  // Another threshold may decide otherwise, so it is part of what `auto` means for the cache.
  const cacheCompression = opts.compression === "auto" ? `auto:min-saving=${minSaving}` : opts.compression;
  // Look every allotment up first: the workers are started only if something must be built.
  const lookups = await Promise.all(
    resolved.map(async ({ files }) => {
      const key = cache.keyFor(files, cacheCompression);
      return { key, hit: opts.noCache ? undefined : await cache.get(key) };
    }),
  );
  const misses = lookups.filter((l) => !l.hit).length;
  // Sized with placeholder layers (sizes 0, the shortest media type): a lower bound, known
  // before a single layer is written. With every layer cached nothing would be written, and the
  // check with the real sizes below is enough: a rebuild with nothing to do composes once.
  if (misses > 0) {
    const placeholderType = ociLayerMediaType(opts.compression === "auto" ? "none" : opts.compression);
    const placeholders = resolved.map(({ spec, files }) => toAllotment(spec, files, { digest: ZERO, diffId: ZERO, size: 0, mediaType: placeholderType }));
    checkSizes(platforms, placeholders, opts, created, true);
  }
  const layerWarning = layerCountWarning(resolved.length + Math.max(0, ...platforms.map((p) => p.image?.manifest.layers.length ?? 0)));
  if (layerWarning) emit({ type: "warning", message: layerWarning });
  emit({
    type: "plan",
    allotments: resolved.length,
    files: resolved.reduce((n, a) => n + a.files.length, 0),
    bytes: resolved.reduce((n, a) => n + a.files.reduce((m, f) => m + f.size, 0), 0),
  });

  let pool: WorkerPool | undefined;
  const getPool = () => (pool ??= typeof opts.pool === "function" ? opts.pool(misses) : opts.pool);
  let built = 0;
  let cached = 0;
  const decisions: AutoDecisions = {};
  const layers = await runBounded(resolved, opts.jobs, async ({ spec, files }, i) => {
    const { key, hit } = lookups[i]!;
    const layer = hit ?? (await writeAllotmentLayer(opts.store, getPool(), opts.compression, minSaving, files));
    if (!hit) await cache.put(key, layer);
    hit ? cached++ : built++;
    if (layer.auto) decisions[layer.digest] = layer.auto;
    emit({
      type: "allotment",
      row: spec.row,
      col: spec.col,
      status: hit ? "cached" : "built",
      digest: layer.digest,
      size: layer.size,
      bytesRead: hit ? 0 : files.reduce((n, f) => n + f.size, 0),
      files: files.length,
      compression: layerCompressionOf(layer.mediaType) ?? "none",
      tarSize: layer.tarSize,
      ...(layer.auto ? { auto: layer.auto } : {}),
    });
    return toAllotment(spec, files, layer);
  });
  const allotments = layers.sort(compareCells);

  // Now with the real sizes and media types; only layer blobs, which no image names yet, are stored.
  const composed = checkSizes(platforms, allotments, opts, created, false);
  const children: Descriptor[] = [];
  if (composed.fieldBytes) await opts.store.putBlob(composed.fieldBytes);
  for (const [i, platform] of platforms.entries()) {
    const { manifestBytes, configBytes } = composed.platforms[i]!;
    await opts.store.putBlob(configBytes);
    const { digest, size } = await opts.store.putBlob(manifestBytes);
    recordAutoDecisions(opts.store, digest, decisions);
    children.push({ mediaType: MediaType.ociManifest, digest, size, platform: platform.platform, ...childAnnotations(platform) });
  }

  const descriptor = await putRoot(opts.store, opts.base, children);
  // Re-pointing a name at what it already names would only cost a lock and an fsync.
  if ((await opts.store.resolve(opts.name))?.digest !== descriptor.digest) await opts.store.setImage(opts.name, descriptor);
  emit({ type: "image", name: opts.name, digest: descriptor.digest, platforms: platforms.map((p) => toPlatformString(p.platform)) });
  return { descriptor, allotments, built, cached };
}

interface BuildPlatform {
  platform: Platform;
  image?: PlatformImage;
  config: ImageConfig;
}

function selectPlatforms(base: BaseImage, wanted: Platform[] | undefined, created: string): BuildPlatform[] {
  if (base.kind === "scratch") {
    const platform = base.platform ?? wanted?.[0] ?? hostPlatform();
    const config: ImageConfig = {
      created,
      architecture: platform.architecture,
      os: platform.os,
      ...(platform.variant ? { variant: platform.variant } : {}),
      config: {},
      rootfs: { type: "layers", diff_ids: [] },
      history: [],
    };
    return [{ platform, config }];
  }
  const all = base.image.platforms.map((image) => ({ platform: image.platform, image, config: image.config }));
  if (!wanted?.length) return all;
  const chosen = all.filter((p) => wanted.some((w) => platformMatches(p.platform, w)));
  if (chosen.length === 0) {
    throw new Error(
      `the base image has no platform ${wanted.map(toPlatformString).join(", ")} (it has ${all.map((p) => toPlatformString(p.platform)).join(", ")})`,
    );
  }
  return chosen;
}

async function writeAllotmentLayer(
  store: LayoutStore,
  pool: WorkerPool,
  compression: BuildOptions["compression"],
  minSaving: number,
  files: ResolvedAllotment["files"],
): Promise<CachedLayer> {
  const entries = planTarEntries(
    files.map((f): LayerFile => ({ src: f.src, dst: f.dst, size: f.size, executable: f.executable, ...(f.linkTarget !== undefined ? { linkTarget: f.linkTarget } : {}) })),
  );
  const outPath = await store.tempPath("layer");
  try {
    const result = await pool.writeLayer({ entries, compression, ...(compression === "auto" ? { minSaving } : {}), outPath });
    await store.commitBlob(outPath, result.digest);
    return {
      digest: result.digest,
      diffId: result.diffId,
      size: result.size,
      mediaType: ociLayerMediaType(result.compression),
      tarSize: result.tarSize,
      ...(result.auto ? { auto: result.auto } : {}),
    };
  } catch (error) {
    await rm(outPath, { force: true });
    throw error;
  }
}

function toAllotment(spec: AllotmentSpec, files: ResolvedAllotment["files"], layer: Omit<CachedLayer, "tarSize" | "auto">): Allotment & { dsts: string[] } {
  return {
    row: spec.row,
    col: spec.col,
    diffId: layer.diffId,
    layer: { mediaType: layer.mediaType, digest: layer.digest, size: layer.size },
    dsts: files.map((f) => f.dst),
  };
}

function describeAllotment(a: Allotment): string {
  const dsts = (a as Allotment & { dsts?: string[] }).dsts ?? [];
  const shown = dsts.slice(0, 3).join(" ");
  return `2dfs allotment ${a.row}.${a.col}: ${shown}${dsts.length > 3 ? ` (+${dsts.length - 3} more)` : ""}`;
}

const ZERO = `sha256:${"0".repeat(64)}` as Digest;

interface ComposedPlatform {
  manifestBytes: Uint8Array;
  configBytes: Uint8Array;
}

function composePlatform(platform: BuildPlatform, allotments: Allotment[], field: Descriptor | undefined, created: string): ComposedPlatform {
  const base = platform.image ? { manifest: platform.image.manifest, config: platform.image.config } : { config: platform.config };
  if (field) {
    return composeReference(platform.image ? { ...base, configDescriptor: platform.image.manifest.config } : base, field, { sha256: sha256Bytes });
  }
  return composeNative(base, allotments, { created, describe: describeAllotment, sha256: sha256Bytes });
}

function toFieldBytes(allotments: Allotment[]): Uint8Array {
  return toReferenceFieldBytes(allotments.map((a) => ({ row: a.row, col: a.col, digest: a.layer.digest, diffId: a.diffId })));
}

/**
 * Composes every platform's documents and refuses the build when one is over what readers
 * accept (size-limits.ts). `atLeast`: the allotments carry placeholder layers.
 */
function checkSizes(
  platforms: BuildPlatform[],
  allotments: Allotment[],
  opts: BuildOptions,
  created: string,
  atLeast: boolean,
): { platforms: ComposedPlatform[]; fieldBytes?: Uint8Array } {
  const fieldBytes = opts.format === "reference" ? toFieldBytes(allotments) : undefined;
  const field = (bytes: Uint8Array | undefined): Descriptor | undefined =>
    bytes ? { mediaType: MediaType.tdfsField, digest: sha256Bytes(bytes), size: bytes.byteLength } : undefined;
  const fieldDescriptor = field(fieldBytes); // hashed once, named by every platform
  const composed = platforms.map((platform) => composePlatform(platform, allotments, fieldDescriptor, created));
  const fits = (fieldBytes?.byteLength ?? 0) <= MAX_FIELD_BLOB_BYTES &&
    composed.every((c) => c.manifestBytes.byteLength <= MAX_MANIFEST_BYTES && c.configBytes.byteLength <= MAX_MANIFEST_BYTES);
  if (fits) return { platforms: composed, ...(fieldBytes ? { fieldBytes } : {}) };
  // Over a limit: the same documents without allotments tell what each allotment adds.
  const emptyField = fieldBytes ? toFieldBytes([]) : undefined;
  const docs: DocumentSize[] = [];
  if (fieldBytes) docs.push({ name: "field blob", bytes: fieldBytes.byteLength, empty: emptyField!.byteLength, limit: MAX_FIELD_BLOB_BYTES });
  const emptyFieldDescriptor = field(emptyField);
  platforms.forEach((platform, i) => {
    const empty = composePlatform(platform, [], emptyFieldDescriptor, created);
    docs.push(
      { name: "manifest", bytes: composed[i]!.manifestBytes.byteLength, empty: empty.manifestBytes.byteLength, limit: MAX_MANIFEST_BYTES },
      { name: "config", bytes: composed[i]!.configBytes.byteLength, empty: empty.configBytes.byteLength, limit: MAX_MANIFEST_BYTES },
    );
  });
  checkDocumentSizes(docs, allotments.length, atLeast);
  throw new Error("unreachable: a document is over its limit but was not refused");
}

function childAnnotations(platform: BuildPlatform): { annotations?: Record<string, string> } {
  const annotations = { ...platform.image?.descriptor.annotations };
  delete annotations[Annotation.refName];
  return Object.keys(annotations).length ? { annotations } : {};
}

// A single-platform result is stored as a plain manifest; several as an index that keeps
// each platform (multi-arch clients need it to pick the right one).
async function putRoot(store: LayoutStore, base: BaseImage, children: Descriptor[]): Promise<Descriptor> {
  const baseIsIndex = base.kind === "image" && base.image.parsed.kind === "index";
  if (children.length === 1 && !baseIsIndex) {
    const { platform: _platform, ...descriptor } = children[0]!;
    return descriptor;
  }
  const index: ImageIndex = {
    schemaVersion: 2,
    mediaType: MediaType.ociIndex,
    manifests: children,
    annotations: { [Annotation.tdfsVersion]: TDFS_FORMAT_VERSION },
  };
  const { digest, size } = await store.putBlob(new TextEncoder().encode(JSON.stringify(index)));
  return { mediaType: MediaType.ociIndex, digest, size };
}
