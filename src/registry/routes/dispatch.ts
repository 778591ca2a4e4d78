/** Sends a request to the route of its endpoint and method. */
import { OciError } from "../../oci/errors.ts";
import type { Registry } from "../registry.ts";
import { deleteBlob, getBlob } from "./blobs.ts";
import { jsonResponse } from "./http.ts";
import { listCatalog, listReferrers, listTags } from "./listings.ts";
import { deleteManifest, getManifest, putManifest } from "./manifests.ts";
import { parseEndpoint } from "./paths.ts";
import { assertWritable, deleteUpload, getUpload, patchUpload, postUpload, putUpload } from "./uploads.ts";

/** Answers one distribution API request (errors are thrown as OciError). */
export async function dispatch(reg: Registry, request: Request, url: URL): Promise<Response> {
  const endpoint = parseEndpoint(url.pathname);
  if (!endpoint) throw new OciError("UNSUPPORTED", `no such endpoint: ${url.pathname}`, { status: 404 });
  const method = request.method === "HEAD" ? "GET" : request.method;
  const wrongMethod = () => new OciError("UNSUPPORTED", `${request.method} is not supported on ${url.pathname}`);
  const writing = method !== "GET";
  if (writing) assertWritable(reg);
  switch (endpoint.kind) {
    case "base":
      if (method !== "GET") throw wrongMethod();
      return jsonResponse({});
    case "catalog":
      if (method !== "GET") throw wrongMethod();
      return listCatalog(reg, url);
    case "tags":
      if (method !== "GET") throw wrongMethod();
      return listTags(reg, url, endpoint.name);
    case "referrers":
      if (method !== "GET") throw wrongMethod();
      return listReferrers(reg, url, endpoint.name, endpoint.digest);
    case "blob":
      if (method === "GET") return getBlob(reg, request, endpoint.name, endpoint.digest);
      if (method === "DELETE") return deleteBlob(reg, endpoint.name, endpoint.digest);
      throw wrongMethod();
    case "uploads":
      if (method === "POST") return postUpload(reg, request, url, endpoint.name);
      throw wrongMethod();
    case "upload":
      if (method === "GET") return getUpload(reg, endpoint.name, endpoint.id);
      if (method === "PATCH") return patchUpload(reg, request, endpoint.name, endpoint.id);
      if (method === "PUT") return putUpload(reg, request, url, endpoint.name, endpoint.id);
      if (method === "DELETE") return deleteUpload(reg, endpoint.name, endpoint.id);
      throw wrongMethod();
    case "manifest":
      if (method === "GET") return getManifest(reg, request, endpoint.name, endpoint.reference);
      if (method === "PUT") return putManifest(reg, request, endpoint.name, endpoint.reference);
      if (method === "DELETE") return deleteManifest(reg, endpoint.name, endpoint.reference);
      throw wrongMethod();
  }
}
