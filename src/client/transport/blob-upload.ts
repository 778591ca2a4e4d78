/**
 * Uploads a blob to a registry: HEAD first, a cross-repository mount when another repository
 * of the registry has it, one PUT for small blobs, and chunked PATCHes for large ones that
 * resume from the registry's own upload status after a dropped connection.
 */
import type { Digest } from "../../oci/digest.ts";
import { RegistryResponseError, toResponseError } from "../errors.ts";
import { type RegistryClient, pullScope, pushScope } from "./registry-client.ts";
import { isRetryableStatus, retryDelay } from "./retry.ts";
import { type TransferObserver, silentObserver } from "../transfer-observer.ts";

/** Tuning of an upload. */
export interface UploadOptions {
  /** Blobs up to this size go in one PUT (default 16 MiB). */
  monolithicMax?: number;
  /** Size of each PATCH of a chunked upload (default 32 MiB). */
  chunkSize?: number;
  /** Other repositories of the same registry that may hold the blob already. */
  mountFrom?: readonly string[];
  observer?: TransferObserver;
}

const MONOLITHIC_MAX = 16 * 1024 * 1024;
const CHUNK_SIZE = 32 * 1024 * 1024;

/** Makes sure `repo` has the blob whose bytes are `data` (e.g. `Bun.file(path)`); says how. */
export async function uploadBlob(
  client: RegistryClient,
  repo: string,
  blob: { digest: Digest; size: number },
  data: Blob,
  opts: UploadOptions = {},
): Promise<"exists" | "mounted" | "uploaded"> {
  const observer = opts.observer ?? silentObserver;
  if ((await client.headBlob(repo, blob.digest)) !== undefined) {
    observer.done(blob.digest, "exists", blob.size);
    return "exists";
  }
  let location: string | undefined;
  for (const from of opts.mountFrom ?? []) {
    if (from === repo) continue;
    const res = await client.request(`/v2/${repo}/blobs/uploads/?mount=${blob.digest}&from=${encodeURIComponent(from)}`, {
      method: "POST",
      scopes: [pushScope(repo), pullScope(from)],
    });
    await res.body?.cancel().catch(() => {});
    if (res.status === 201) {
      observer.done(blob.digest, "mounted", blob.size);
      return "mounted";
    }
    // 202: the registry could not mount but opened an ordinary upload instead.
    if (res.status === 202 && res.headers.get("location")) {
      location = res.headers.get("location")!;
      break;
    }
  }
  observer.start(blob.digest, blob.size, 0);
  const monolithic = blob.size <= (opts.monolithicMax ?? MONOLITHIC_MAX);
  for (let attempt = 0; ; attempt++) {
    try {
      location ??= await startUpload(client, repo);
      if (monolithic) await putWhole(client, repo, location, blob, data, observer);
      else await putChunked(client, repo, location, blob, data, opts.chunkSize ?? CHUNK_SIZE, observer);
      break;
    } catch (error) {
      // A failed single PUT leaves its session unusable: open a new one.
      if (!monolithic || attempt >= client.retry.retries || !isTransient(error)) throw error;
      location = undefined;
      await Bun.sleep(retryDelay(client.retry, attempt + 1));
    }
  }
  observer.done(blob.digest, "uploaded", blob.size);
  return "uploaded";
}

/** Opens an upload session and returns its location. */
export async function startUpload(client: RegistryClient, repo: string): Promise<string> {
  const res = await client.request(`/v2/${repo}/blobs/uploads/`, { method: "POST", scopes: [pushScope(repo)] });
  // An error's body holds the registry's reason: read it before dropping the body.
  if (!res.ok) throw await toResponseError(res, `start upload to ${client.registry}/${repo}`);
  await res.body?.cancel().catch(() => {});
  const location = res.headers.get("location");
  if (res.status !== 202 || !location) {
    throw new RegistryResponseError(`start upload to ${client.registry}/${repo}: HTTP ${res.status} without a Location`, res.status);
  }
  return location;
}

function withDigest(client: RegistryClient, location: string, digest: Digest): string {
  const url = new URL(client.resolveUrl(location));
  url.searchParams.set("digest", digest);
  return url.toString();
}

async function putWhole(
  client: RegistryClient,
  repo: string,
  location: string,
  blob: { digest: Digest; size: number },
  data: Blob,
  observer: TransferObserver,
): Promise<void> {
  const res = await client.request(withDigest(client, location, blob.digest), {
    method: "PUT",
    scopes: [pushScope(repo)],
    headers: { "Content-Type": "application/octet-stream", "Content-Length": String(blob.size) },
    body: () => data,
    retries: 0,
  });
  if (res.status !== 201 && !res.ok) throw await toResponseError(res, `upload ${blob.digest} to ${client.registry}/${repo}`);
  await res.body?.cancel().catch(() => {});
  observer.advance(blob.digest, blob.size);
}

async function putChunked(
  client: RegistryClient,
  repo: string,
  startLocation: string,
  blob: { digest: Digest; size: number },
  data: Blob,
  chunkSize: number,
  observer: TransferObserver,
): Promise<void> {
  let location = startLocation;
  let offset = 0;
  let failures = 0;
  while (offset < blob.size) {
    const end = Math.min(blob.size, offset + chunkSize);
    let res: Response | undefined;
    try {
      res = await client.request(location, {
        method: "PATCH",
        scopes: [pushScope(repo)],
        headers: {
          "Content-Type": "application/octet-stream",
          "Content-Range": `${offset}-${end - 1}`,
          "Content-Length": String(end - offset),
        },
        body: () => data.slice(offset, end),
        retries: 0,
      });
    } catch {
      res = undefined;
    }
    if (res && res.status === 202) {
      await res.body?.cancel().catch(() => {});
      location = res.headers.get("location") ?? location;
      const next = rangeEnd(res.headers.get("range")) ?? end;
      observer.advance(blob.digest, next - offset);
      offset = next;
      failures = 0;
      continue;
    }
    if (res && !isRetryableOrRange(res.status)) throw await toResponseError(res, `upload chunk of ${blob.digest}`);
    await res?.body?.cancel().catch(() => {});
    // The connection dropped or the registry failed mid-chunk: ask it how much it has and continue from there.
    failures++;
    if (failures > client.retry.retries) {
      throw new RegistryResponseError(`upload of ${blob.digest} to ${client.registry}/${repo} kept failing at byte ${offset}`, res?.status ?? 0);
    }
    await Bun.sleep(retryDelay(client.retry, failures));
    const status = await client.request(location, { scopes: [pushScope(repo)] });
    await status.body?.cancel().catch(() => {});
    if (status.status === 404 || status.status === 400) {
      // The session is gone, or (distribution) its state token went stale when the answer was lost: start over.
      location = await startUpload(client, repo);
      offset = 0;
      continue;
    }
    if (status.status !== 204 && !status.ok) throw await toResponseError(status, `upload status of ${blob.digest}`);
    location = status.headers.get("location") ?? location;
    // Some registries say "0-0" for an empty upload as well as for one byte; assume empty, a 416 corrects it.
    const reported = rangeEnd(status.headers.get("range")) ?? 0;
    const next = reported === 1 && offset === 0 ? 0 : reported;
    if (next > offset) observer.advance(blob.digest, next - offset);
    offset = next;
  }
  const res = await client.request(withDigest(client, location, blob.digest), {
    method: "PUT",
    scopes: [pushScope(repo)],
    headers: { "Content-Length": "0" },
  });
  if (res.status !== 201 && !res.ok) throw await toResponseError(res, `finish upload of ${blob.digest} to ${client.registry}/${repo}`);
  await res.body?.cancel().catch(() => {});
}

/** The next offset from a `Range: 0-N` upload status header (N is the last byte held). */
function rangeEnd(header: string | null): number | undefined {
  const m = /^(?:bytes=)?0-(\d+)$/.exec(header?.trim() ?? "");
  return m ? Number(m[1]) + 1 : undefined;
}

// A 507 (the registry's disk is full) is not among these: it is reported at once, not retried.
function isRetryableOrRange(status: number): boolean {
  return status === 416 || isRetryableStatus(status);
}

function isTransient(error: unknown): boolean {
  if (error instanceof RegistryResponseError) return error.status === 0 || isRetryableStatus(error.status);
  return (error as Error)?.name === "RegistryUnreachableError";
}
