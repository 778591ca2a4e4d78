/** Listing routes: tags, referrers and the catalog. */
import { OciError } from "../../oci/errors.ts";
import { MediaType } from "../../oci/media-types.ts";
import type { Registry } from "../registry.ts";
import { listRepositories } from "../services/catalog.ts";
import { repositoryDir } from "../storage/paths.ts";
import { parseDigestParam } from "./blobs.ts";
import { jsonResponse, paginate } from "./http.ts";

/** GET /v2/<name>/tags/list with n/last and a Link header for the next page. */
export async function listTags(reg: Registry, url: URL, name: string): Promise<Response> {
  if ((await reg.driver.list(repositoryDir(name))).length === 0) {
    throw new OciError("NAME_UNKNOWN", `repository ${name} is not known to this registry`);
  }
  const { page, next } = paginate(await reg.tags.list(name), url);
  return jsonResponse({ name, tags: page }, next ? { Link: next } : {});
}

/** GET /v2/<name>/referrers/<digest>[?artifactType=]; an edge adds what its upstream lists. */
export async function listReferrers(reg: Registry, url: URL, name: string, digestText: string): Promise<Response> {
  const subject = parseDigestParam(digestText);
  const artifactType = url.searchParams.get("artifactType") ?? undefined;
  const index = await reg.referrers.list(name, subject, artifactType);
  const upstream = (await reg.upstream?.referrers(name, subject)) ?? [];
  const local = new Set(index.manifests.map((d) => d.digest));
  for (const d of upstream) {
    if (!local.has(d.digest) && (artifactType === undefined || d.artifactType === artifactType)) index.manifests.push(d);
  }
  const headers: Record<string, string> = { "Content-Type": MediaType.ociIndex };
  if (artifactType !== undefined) headers["OCI-Filters-Applied"] = "artifactType";
  return new Response(JSON.stringify(index), { status: 200, headers });
}

/** GET /v2/_catalog with n/last. */
export async function listCatalog(reg: Registry, url: URL): Promise<Response> {
  const { page, next } = paginate(await listRepositories(reg.driver), url);
  return jsonResponse({ repositories: page }, next ? { Link: next } : {});
}
