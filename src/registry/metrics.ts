/** Counters of one registry process, rendered in the Prometheus text format at `/metrics`. */

/** What a cache lookup was about. */
export type CacheKind = "blob" | "manifest";

/** The counters; every tier (origin, regional, edge) keeps its own and labels them with its name. */
export interface Metrics {
  /** Answered from local storage (for an edge: without asking upstream). */
  hit(kind: CacheKind): void;
  /** Fetched from upstream. */
  miss(kind: CacheKind): void;
  /** A cached tag served while upstream could not be asked. */
  stale(): void;
  /** A tag checked against upstream after its time to live. */
  revalidated(): void;
  fromUpstream(bytes: number): void;
  /** A successful GET under /v2/ answered with this Content-Length. */
  served(bytes: number): void;
  evicted(bytes: number): void;
  /** Bytes of upstream blobs held now. */
  setCacheBytes(bytes: number): void;
  /** The text of `/metrics`. */
  render(): string;
}

/** Creates zeroed counters labelled `tier="<tier>"`. */
export function createMetrics(tier: string): Metrics {
  const hits = { blob: 0, manifest: 0 };
  const misses = { blob: 0, manifest: 0 };
  let stale = 0;
  let revalidated = 0;
  let fromUpstream = 0;
  let served = 0;
  let evictedBytes = 0;
  let evictions = 0;
  let cacheBytes = 0;
  // Label values escape backslash, quote and newline (the text format's only escapes).
  const t = tier.replace(/[\\"\n]/g, (c) => (c === "\n" ? "\\n" : `\\${c}`));
  const metric = (name: string, type: string, help: string, rows: [string, number][]) =>
    [`# HELP ${name} ${help}`, `# TYPE ${name} ${type}`, ...rows.map(([labels, v]) => `${name}{tier="${t}"${labels}} ${v}`)].join("\n");
  return {
    hit: (kind) => void hits[kind]++,
    miss: (kind) => void misses[kind]++,
    stale: () => void stale++,
    revalidated: () => void revalidated++,
    fromUpstream: (bytes) => void (fromUpstream += bytes),
    served: (bytes) => void (served += bytes),
    evicted(bytes) {
      evictions++;
      evictedBytes += bytes;
    },
    setCacheBytes: (bytes) => void (cacheBytes = bytes),
    render: () =>
      [
        metric("tdfs_cache_hits_total", "counter", "Requests answered from local storage.", [
          [',kind="blob"', hits.blob],
          [',kind="manifest"', hits.manifest],
        ]),
        metric("tdfs_cache_misses_total", "counter", "Requests that fetched from upstream.", [
          [',kind="blob"', misses.blob],
          [',kind="manifest"', misses.manifest],
        ]),
        metric("tdfs_stale_tags_served_total", "counter", "Cached tags served while upstream was unreachable.", [["", stale]]),
        metric("tdfs_tag_revalidations_total", "counter", "Tags checked against upstream after their time to live.", [["", revalidated]]),
        metric("tdfs_upstream_bytes_total", "counter", "Body bytes received from upstream.", [["", fromUpstream]]),
        metric("tdfs_served_bytes_total", "counter", "Body bytes of successful GET responses under /v2/ (blobs, manifests, tag lists).", [["", served]]),
        metric("tdfs_cache_evictions_total", "counter", "Upstream blobs evicted by --cache-max.", [["", evictions]]),
        metric("tdfs_cache_evicted_bytes_total", "counter", "Bytes of evicted upstream blobs.", [["", evictedBytes]]),
        metric("tdfs_cache_bytes", "gauge", "Bytes of upstream blobs held.", [["", cacheBytes]]),
        "",
      ].join("\n"),
  };
}

/** The `/metrics` answer. */
export function metricsResponse(metrics: Metrics): Response {
  return new Response(metrics.render(), { headers: { "Content-Type": "text/plain; version=0.0.4; charset=utf-8" } });
}
