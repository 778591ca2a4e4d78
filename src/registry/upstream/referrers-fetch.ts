/**
 * The referrers an edge answers for a subject (signatures, SBOMs, attestations): what upstream
 * lists, kept for the tag TTL, beside what was pushed to the edge itself. Without it an edge
 * knew only the referrers it had already fetched by digest, so `cosign` or `notation` asking it
 * first would find no signature at all.
 */
import { type Descriptor, parseDescriptor } from "../../oci/descriptor.ts";
import type { Digest } from "../../oci/digest.ts";
import { isObject } from "../../oci/json.ts";
import { createLru } from "../storage/lru.ts";
import type { UpstreamClient } from "./http-client.ts";

/** Upstream's referrers of one subject: a list (empty when upstream has none, or no referrers API), or undefined when it cannot say and nothing is kept. */
export type FetchReferrers = (name: string, subject: Digest) => Promise<Descriptor[] | undefined>;

/** Listings kept at most; each is small (a descriptor per referrer). */
const MAX_KEPT = 1024;

export function createReferrersFetcher(opts: { clientFor: (name: string) => UpstreamClient | undefined; ttlMs: number; log: (line: string) => void }): FetchReferrers {
  const kept = createLru<string, { at: number; manifests: Descriptor[] }>({ maxEntries: MAX_KEPT });
  return async (name, subject) => {
    const client = opts.clientFor(name);
    if (!client) return undefined;
    const key = `${name}@${subject}`;
    const cached = kept.get(key);
    if (cached && Date.now() - cached.at < opts.ttlMs) return cached.manifests;
    let res: Response;
    try {
      // Unfiltered: one listing per subject serves every artifactType asked of the edge.
      res = await client.request("GET", name, `referrers/${subject}`, { Accept: "application/vnd.oci.image.index.v1+json" });
    } catch (e) {
      opts.log(`upstream: referrers of ${subject} in ${name}: ${(e as Error).message}; ${cached ? "serving the last listing" : "listing the edge's own"}`);
      return cached?.manifests;
    }
    if (res.status === 404) {
      // No such subject upstream, or a registry without the referrers API (clients then fall back to tags).
      await res.body?.cancel();
      kept.set(key, { at: Date.now(), manifests: [] });
      return [];
    }
    const body = res.ok ? await res.json().catch(() => undefined) : (await res.body?.cancel(), undefined);
    const manifests = isObject(body) && Array.isArray(body.manifests) ? body.manifests.flatMap(validDescriptor) : undefined;
    if (!manifests) {
      opts.log(`upstream: referrers of ${subject} in ${name}: ${res.ok ? "not an image index" : `answered ${res.status}`}; ${cached ? "serving the last listing" : "listing the edge's own"}`);
      return cached?.manifests;
    }
    kept.set(key, { at: Date.now(), manifests });
    return manifests;
  };
}

/** The descriptor when it is one (a malformed entry of upstream's listing is dropped, not passed on). */
function validDescriptor(value: unknown, i: number): Descriptor[] {
  try {
    return [parseDescriptor(value, `manifests[${i}]`)];
  } catch {
    return [];
  }
}
