/** Blob routes: GET/HEAD (with Range) and DELETE of `/v2/<name>/blobs/<digest>`. */
import { type Digest, parseDigest } from "../../oci/digest.ts";
import { OciError } from "../../oci/errors.ts";
import type { Registry } from "../registry.ts";
import { blobDataPath } from "../storage/paths.ts";
import { parseRangeHeader } from "./http.ts";

/** How long a redirect's presigned URL stays valid: long enough for a slow client to start. */
const REDIRECT_SECONDS = 20 * 60;

/** Parses a digest from a URL, answering DIGEST_INVALID for a bad one. */
export function parseDigestParam(text: string): Digest {
  try {
    return parseDigest(text).digest;
  } catch (e) {
    throw new OciError("DIGEST_INVALID", (e as Error).message);
  }
}

/** GET or HEAD of a blob. */
export async function getBlob(reg: Registry, request: Request, name: string, digestText: string): Promise<Response> {
  const digest = parseDigestParam(digestText);
  const head = request.method === "HEAD";
  let stat = await reg.blobs.stat(name, digest);
  if (stat) reg.upstream?.touch(digest);
  else {
    // Configs of generated partitions are served from the derived cache.
    const doc = await reg.partitions.derived(name, digest);
    if (doc) return sendBytes(doc.bytes, digest, request, head);
    // An edge streams a missing blob while caching it, or has it local once this returns undefined.
    const pulled = await reg.upstream?.blob(name, digest, request);
    if (pulled) return pulled;
    stat = reg.upstream && (await reg.blobs.stat(name, digest));
    if (!stat) throw new OciError("BLOB_UNKNOWN", `blob ${digest} is not in ${name}`);
  }
  const size = stat.size;
  const range = parseRangeHeader(request.headers.get("range"), size);
  const path = blobDataPath(digest);
  const headers: Record<string, string> = {
    "Docker-Content-Digest": digest,
    "Content-Type": "application/octet-stream",
    "Accept-Ranges": "bytes",
    ETag: `"${digest}"`,
  };
  const start = range?.start ?? 0;
  const end = range ? range.end + 1 : size;
  headers["Content-Length"] = String(end - start);
  if (range) headers["Content-Range"] = `bytes ${range.start}-${range.end}/${size}`;
  const status = range ? 206 : 200;
  if (head) return new Response(null, { status, headers });
  // As distribution's storage middleware does: the bytes go from the store to the client, which
  // repeats its Range header at the new location. HEAD stays here (it moves no bytes).
  const direct = reg.redirect ? reg.driver.directUrl?.(path, REDIRECT_SECONDS) : undefined;
  if (direct) return new Response(null, { status: 307, headers: { Location: direct, "Docker-Content-Digest": digest, "Content-Length": "0" } });
  const file = reg.driver.file?.(path);
  // A Bun.file body goes out with sendfile(2); other drivers stream.
  const body = file ? (range ? file.slice(start, end) : file) : reg.driver.reader(path, start, end);
  return new Response(body, { status, headers });
}

/** A small in-memory blob (a generated config) with the same headers and Range handling. */
function sendBytes(bytes: Uint8Array, digest: Digest, request: Request, head: boolean): Response {
  const range = parseRangeHeader(request.headers.get("range"), bytes.byteLength);
  const body = range ? bytes.subarray(range.start, range.end + 1) : bytes;
  const headers: Record<string, string> = {
    "Docker-Content-Digest": digest,
    "Content-Type": "application/octet-stream",
    "Content-Length": String(body.byteLength),
    "Accept-Ranges": "bytes",
  };
  if (range) headers["Content-Range"] = `bytes ${range.start}-${range.end}/${bytes.byteLength}`;
  return new Response(head ? null : body, { status: range ? 206 : 200, headers });
}

/** DELETE of a blob: unlinks it from the repository (gc reclaims the bytes). */
export async function deleteBlob(reg: Registry, name: string, digestText: string): Promise<Response> {
  const digest = parseDigestParam(digestText);
  if (!(await reg.blobs.unlink(name, digest))) throw new OciError("BLOB_UNKNOWN", `blob ${digest} is not in ${name}`);
  return new Response(null, { status: 202, headers: { "Content-Length": "0" } });
}
