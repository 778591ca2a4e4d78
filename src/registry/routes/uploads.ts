/** Upload routes: POST (session, monolithic, mount), PATCH, PUT, GET status and DELETE. */
import { OciError } from "../../oci/errors.ts";
import { isRepositoryName } from "../../oci/reference.ts";
import type { Registry } from "../registry.ts";
import type { ChunkInfo, UploadStatus } from "../services/uploads.ts";
import { parseDigestParam } from "./blobs.ts";
import { parseContentLength, parseContentRange } from "./http.ts";

function sessionHeaders(name: string, status: UploadStatus): Record<string, string> {
  return {
    Location: `/v2/${name}/blobs/uploads/${status.id}`,
    Range: `0-${Math.max(0, status.offset - 1)}`,
    "Docker-Upload-UUID": status.id,
    "Content-Length": "0",
  };
}

function created(name: string, digest: string): Response {
  return new Response(null, {
    status: 201,
    headers: { Location: `/v2/${name}/blobs/${digest}`, "Docker-Content-Digest": digest, "Content-Length": "0" },
  });
}

function chunkOf(request: Request): ChunkInfo {
  const chunk: ChunkInfo = {};
  const range = parseContentRange(request.headers.get("content-range"));
  const length = parseContentLength(request.headers.get("content-length"));
  if (range) chunk.range = range;
  if (length !== undefined) chunk.length = length;
  return chunk;
}

/** POST /v2/<name>/blobs/uploads/: mount, monolithic upload, or a new session. */
export async function postUpload(reg: Registry, request: Request, url: URL, name: string): Promise<Response> {
  const mount = url.searchParams.get("mount");
  const from = url.searchParams.get("from");
  if (mount !== null) {
    const digest = parseDigestParam(mount);
    if (from !== null && isRepositoryName(from) && (await reg.blobs.stat(from, digest))) {
      await reg.blobs.link(name, digest);
      return created(name, digest);
    }
    // Not mountable: the spec says to answer with an ordinary upload session instead.
    const status = await reg.uploads.start(name);
    return new Response(null, { status: 202, headers: sessionHeaders(name, status) });
  }
  const digest = url.searchParams.get("digest");
  const status = await reg.uploads.start(name);
  if (digest === null) return new Response(null, { status: 202, headers: sessionHeaders(name, status) });
  try {
    const done = await reg.uploads.finish(name, status.id, digest, request.body, chunkOf(request));
    return created(name, done);
  } catch (e) {
    await reg.uploads.cancel(name, status.id).catch(() => undefined);
    throw e;
  }
}

/** PATCH: append a chunk in order. */
export async function patchUpload(reg: Registry, request: Request, name: string, id: string): Promise<Response> {
  const status = await reg.uploads.append(name, id, request.body, chunkOf(request));
  return new Response(null, { status: 202, headers: sessionHeaders(name, status) });
}

/** PUT ?digest=: the optional last chunk, then verification and commit. */
export async function putUpload(reg: Registry, request: Request, url: URL, name: string, id: string): Promise<Response> {
  const digest = await reg.uploads.finish(name, id, url.searchParams.get("digest"), request.body, chunkOf(request));
  return created(name, digest);
}

/** GET: where the session stands. */
export async function getUpload(reg: Registry, name: string, id: string): Promise<Response> {
  const status = await reg.uploads.status(name, id);
  return new Response(null, { status: 204, headers: sessionHeaders(name, status) });
}

/** DELETE: cancel the session and drop its data. */
export async function deleteUpload(reg: Registry, name: string, id: string): Promise<Response> {
  await reg.uploads.cancel(name, id);
  return new Response(null, { status: 204, headers: { "Content-Length": "0" } });
}

/** Refuses writes on a read-only registry. */
export function assertWritable(reg: Registry): void {
  if (reg.readOnly) throw new OciError("UNSUPPORTED", "this registry is read-only (--read-only)");
}
