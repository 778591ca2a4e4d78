/**
 * The page's only network access: the registry's own /v2 API on the page's origin, and the one
 * endpoint the server adds for the page (a layer's file names). The browser adds basic-auth
 * credentials itself once the user has answered its prompt for the page.
 */
import type { ImageConfig } from "../../../oci/config.ts";
import type { Descriptor } from "../../../oci/descriptor.ts";
import type { ImageIndex, ImageManifest } from "../../../oci/manifest.ts";
import { MediaType } from "../../../oci/media-types.ts";
import { WHOLE_FIELD, toPartitionSuffix } from "../../../oci/partition-suffix.ts";

const MANIFEST_ACCEPT = [MediaType.ociIndex, MediaType.ociManifest, MediaType.dockerManifestList, MediaType.dockerManifest].join(", ");

/** A manifest as fetched: an index (platform entries) or an image manifest. */
export type FetchedManifest = { kind: "index"; index: ImageIndex } | { kind: "image"; manifest: ImageManifest; digest: string };

/** The suffix selecting every cell a field can have (how reference-format cells are listed with their sizes). */
export const WHOLE_FIELD_SUFFIX = toPartitionSuffix(WHOLE_FIELD);

async function getJson<T>(path: string, accept = "application/json"): Promise<{ body: T; response: Response }> {
  const response = await fetch(path, { headers: { Accept: accept }, credentials: "same-origin" });
  if (!response.ok) throw new Error(`${path}: ${response.status} ${await errorMessage(response)}`);
  return { body: (await response.json()) as T, response };
}

async function errorMessage(response: Response): Promise<string> {
  const text = await response.text();
  try {
    const first = (JSON.parse(text) as { errors?: { message?: string; detail?: unknown }[] }).errors?.[0];
    // The detail says what went wrong with this request; the message only names the code.
    return typeof first?.detail === "string" ? first.detail : (first?.message ?? text.slice(0, 200));
  } catch {
    return text.slice(0, 200);
  }
}

/** The path of the next page a listing's Link header names, or null on the last page. */
function nextPage(response: Response): string | null {
  return /<([^>]+)>;\s*rel="?next"?/.exec(response.headers.get("Link") ?? "")?.[1] ?? null;
}

/** Every repository, following the catalog's pagination (Link headers); `onPage` sees each page as it arrives. */
export async function listRepositories(onPage: (names: string[]) => void = () => {}): Promise<string[]> {
  const out: string[] = [];
  let path: string | null = "/v2/_catalog?n=1000";
  while (path) {
    const { body, response }: { body: { repositories?: string[] }; response: Response } = await getJson(path);
    const names = body.repositories ?? [];
    out.push(...names);
    onPage(names);
    path = nextPage(response);
  }
  return out;
}

/** The tags of one repository, `pageSize` at a time, following the Link headers to the last page. */
export async function listTags(name: string, pageSize = 1000): Promise<string[]> {
  const out: string[] = [];
  let path: string | null = `/v2/${name}/tags/list?n=${pageSize}`;
  while (path) {
    const { body, response }: { body: { tags?: string[] | null }; response: Response } = await getJson(path);
    out.push(...(body.tags ?? []));
    path = nextPage(response);
  }
  return out;
}

/** The regular files of a layer blob, as the server's page endpoint lists them (the first 1,000). */
export interface LayerFileList {
  files: { path: string; size: number }[];
  truncated: boolean;
}

/** Lists a layer's files: for cells whose config history names none. */
export async function listLayerFiles(name: string, digest: string): Promise<LayerFileList> {
  return (await getJson<LayerFileList>(`/ui/api/${name}/layers/${digest}/files`)).body;
}

/** The manifest of a tag or digest. */
export async function getManifest(name: string, reference: string): Promise<FetchedManifest> {
  const { body, response } = await getJson<ImageManifest | ImageIndex>(`/v2/${name}/manifests/${encodeURIComponent(reference)}`, MANIFEST_ACCEPT);
  if (Array.isArray((body as ImageIndex).manifests)) return { kind: "index", index: body as ImageIndex };
  return { kind: "image", manifest: body as ImageManifest, digest: response.headers.get("Docker-Content-Digest") ?? "" };
}

/** The image config a manifest names. */
export async function getConfig(name: string, config: Descriptor): Promise<ImageConfig> {
  return (await getJson<ImageConfig>(`/v2/${name}/blobs/${config.digest}`)).body;
}

/** The path of a partition's manifest, for the download link. */
export function manifestPath(name: string, reference: string): string {
  return `/v2/${name}/manifests/${encodeURIComponent(reference)}`;
}
