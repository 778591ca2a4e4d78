/** Upload routes: POST (session, monolithic, mount), PATCH, PUT, GET status and DELETE. */
import { OciError } from "../../oci/errors.ts";
import { isRepositoryName } from "../../oci/reference.ts";
import { StorageFullError } from "../driver/storage-full.ts";
import type { Registry } from "../registry.ts";
import type { ChunkInfo, UploadStatus } from "../services/uploads.ts";
import { parseDigestParam } from "./blobs.ts";
import { jsonResponse, parseContentLength, parseContentRange } from "./http.ts";

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

/**
 * A full disk is answered 507 Insufficient Storage in the spec's envelope: the spec has no code
 * for it, so BLOB_UPLOAD_INVALID (the upload failed), with the disk named in the detail and
 * also in the message, which is what clients print (2dfs push, docker). 507 is not retried.
 */
async function storageChecked(fn: () => Promise<Response>): Promise<Response> {
  try {
    return await fn();
  } catch (e) {
    if (!(e instanceof StorageFullError)) throw e;
    return jsonResponse({ errors: [{ code: "BLOB_UPLOAD_INVALID", message: e.message, detail: e.message }] }, {}, 507);
  }
}

/** POST /v2/<name>/blobs/uploads/: mount, monolithic upload, or a new session. */
export function postUpload(reg: Registry, request: Request, url: URL, name: string): Promise<Response> {
  return storageChecked(() => startOrUpload(reg, request, url, name));
}

async function startOrUpload(reg: Registry, request: Request, url: URL, name: string): Promise<Response> {
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
export function patchUpload(reg: Registry, request: Request, name: string, id: string): Promise<Response> {
  return storageChecked(async () => {
    const status = await reg.uploads.append(name, id, request.body, chunkOf(request));
    return new Response(null, { status: 202, headers: sessionHeaders(name, status) });
  });
}

/** PUT ?digest=: the optional last chunk, then verification and commit. */
export function putUpload(reg: Registry, request: Request, url: URL, name: string, id: string): Promise<Response> {
  return storageChecked(async () => {
    const digest = await reg.uploads.finish(name, id, url.searchParams.get("digest"), request.body, chunkOf(request));
    return created(name, digest);
  });
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
