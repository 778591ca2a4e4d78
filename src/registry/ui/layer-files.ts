/**
 * `GET /ui/api/<name>/layers/<digest>/files`: the regular files of one layer blob linked into
 * <name>, as `{ files: [{ path, size }], truncated }`, at most MAX_LISTED_FILES of them. The page
 * asks for it when an image's config history names no files (images pushed by other tools,
 * reference-format fields). Read-only, and it reaches blobs the way a blob GET does: through the
 * repository's link, then the storage driver, streamed, never whole in memory.
 */
import { listTarFiles } from "../../archive/list-tar.ts";
import { type Compression, createDecompressor, detectCompression } from "../../archive/compress.ts";
import { parseTarStream } from "../../archive/tar-reader.ts";
import type { Digest } from "../../oci/digest.ts";
import { OciError } from "../../oci/errors.ts";
import { isRepositoryName } from "../../oci/reference.ts";
import type { Registry } from "../registry.ts";
import { parseDigestParam } from "../routes/blobs.ts";
import { jsonResponse } from "../routes/http.ts";
import { decodeSegment } from "../routes/paths.ts";
import { createLru } from "../storage/lru.ts";
import { blobDataPath } from "../storage/paths.ts";

/** The most files one answer lists; a layer with more is answered with the first ones and `truncated`. */
export const MAX_LISTED_FILES = 1000;

/** One file of a layer. */
export interface LayerFile {
  path: string;
  size: number;
}

/** The answer of the endpoint. */
export interface LayerFileList {
  files: LayerFile[];
  truncated: boolean;
}

const PATH = /^\/ui\/api\/(.+?)\/layers\/([^/]+)\/files$/;

/** True for a path this endpoint answers (whatever the method). */
export function isLayerFilesPath(pathname: string): boolean {
  return PATH.test(pathname);
}

/** A blob's listing never changes (its digest names its bytes): answers are kept per registry. */
type ListingCache = ReturnType<typeof createLru<Digest, Promise<LayerFileList>>>;
const caches = new WeakMap<Registry, ListingCache>();

/** Answers a request to the endpoint; errors are thrown as OciError, as the /v2 routes do. */
export async function serveLayerFiles(reg: Registry, request: Request, url: URL): Promise<Response> {
  if (request.method !== "GET" && request.method !== "HEAD") {
    throw new OciError("UNSUPPORTED", `${request.method} is not supported on ${url.pathname}`);
  }
  const m = PATH.exec(url.pathname)!;
  const name = decodeSegment(m[1]!);
  if (!isRepositoryName(name)) {
    throw new OciError("NAME_INVALID", `"${name}" is not a repository name: lowercase letters, digits and . _ - separated by /`);
  }
  const digest = parseDigestParam(decodeSegment(m[2]!));
  const stat = await reg.blobs.stat(name, digest);
  if (!stat) throw new OciError("BLOB_UNKNOWN", `blob ${digest} is not in ${name}`);
  if (request.method === "HEAD") return new Response(null, { headers: { "Content-Type": "application/json" } });

  let cache = caches.get(reg);
  if (!cache) caches.set(reg, (cache = createLru({ maxEntries: 64 })));
  let listing = cache.get(digest);
  if (!listing) {
    listing = listLayer(reg, digest, MAX_LISTED_FILES);
    cache.set(digest, listing);
    // A failure (a blob that is no tar, a store that went away) is not remembered.
    listing.catch(() => cache.delete(digest));
  }
  try {
    return jsonResponse(await listing, { "Cache-Control": "private, max-age=86400, immutable" });
  } catch (e) {
    if (e instanceof OciError) throw e;
    throw new OciError("UNSUPPORTED", `blob ${digest} could not be listed as a layer tar: ${(e as Error).message}`, { status: 422 });
  }
}

/** The first `cap` regular files of the layer blob `digest` (gzip, zstd or uncompressed). */
export async function listLayer(reg: Registry, digest: Digest, cap: number): Promise<LayerFileList> {
  const path = blobDataPath(digest);
  const head = await readHead(reg.driver.reader(path, 0, BLOCK));
  const compression = detectCompression(head);
  // A local uncompressed tar is listed from its headers alone (a 10 GB allotment reads a few KiB);
  // that lister trusts its input, so the first header is checked here as the streaming parser would.
  const local = compression === "none" ? reg.driver.file?.(path)?.name : undefined;
  if (local) {
    if (!isTarStart(head)) throw new Error("its first 512 bytes are not a tar header");
    const files = await listTarFiles(local);
    return { files: files.slice(0, cap), truncated: files.length > cap };
  }
  return listStream(reg.driver.reader(path), compression, cap);
}

async function listStream(stream: ReadableStream<Uint8Array>, compression: Compression, cap: number): Promise<LayerFileList> {
  const tar = parseTarStream(createDecompressor(compression)(stream));
  const files: LayerFile[] = [];
  for await (const entry of tar.entries) {
    const { type, name, size } = entry.header;
    if (type === "file" || type === "contiguous-file") {
      if (files.length === cap) {
        // Stop reading: the rest of the blob is never decompressed.
        tar.abort();
        return { files, truncated: true };
      }
      files.push({ path: `/${name.replace(/^\.?\//, "")}`, size: size ?? 0 });
    }
    entry.resume();
  }
  await tar.finished;
  return { files, truncated: false };
}

const BLOCK = 512;

/** True when `block` is a tar header with a valid checksum, or the end-of-archive block of an empty tar. */
function isTarStart(block: Uint8Array): boolean {
  if (block.byteLength < BLOCK) return false;
  if (block.every((b) => b === 0)) return true;
  // The checksum is the sum of the header's bytes, its own 8-byte field counted as spaces.
  let sum = 8 * 0x20;
  for (let i = 0; i < BLOCK; i++) if (i < 148 || i >= 156) sum += block[i]!;
  const stored = Number.parseInt(new TextDecoder().decode(block.subarray(148, 156)).replace(/[\0 ]+$/, "").trim(), 8);
  return stored === sum;
}

async function readHead(stream: ReadableStream<Uint8Array>): Promise<Uint8Array> {
  const bytes = await new Response(stream).arrayBuffer();
  return new Uint8Array(bytes);
}
