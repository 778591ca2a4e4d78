/** The `--upstream`, `--cache-max` and `--tag-ttl` settings of `2dfs serve`, parsed. */
import { parseByteSize } from "../../util/byte-size.ts";

/** One upstream registry and the repository names it serves. */
export interface UpstreamTarget {
  /** Names starting with this go to this upstream ("" = every name). */
  prefix: string;
  /** Base URL, e.g. http://127.0.0.1:5000 (no trailing slash). */
  url: string;
}

/** Thrown for a malformed upstream setting. */
export class UpstreamOptionsError extends Error {
  override name = "UpstreamOptionsError";
}

/** Parses `URL` or `PREFIX=URL` (a prefix such as `models/` routes only names under it). */
export function parseUpstreamSpec(spec: string): UpstreamTarget {
  const m = /^([a-z0-9._/-]*)=(.+)$/.exec(spec);
  const prefix = m ? m[1]! : "";
  const raw = m ? m[2]! : spec;
  let url: URL;
  try {
    url = new URL(/^[a-z]+:\/\//i.test(raw) ? raw : `http://${raw}`);
  } catch {
    throw new UpstreamOptionsError(`--upstream "${spec}": expected URL or PREFIX=URL, e.g. http://127.0.0.1:5000`);
  }
  if (url.protocol !== "http:" && url.protocol !== "https:") {
    throw new UpstreamOptionsError(`--upstream "${spec}": only http:// and https:// upstreams are supported`);
  }
  if (url.pathname !== "/" || url.search) throw new UpstreamOptionsError(`--upstream "${spec}": give the registry's root URL, without a path`);
  return { prefix, url: url.origin };
}

/** The upstream of a repository name: the longest matching prefix wins. */
export function pickUpstream<T extends UpstreamTarget>(targets: readonly T[], name: string): T | undefined {
  let best: T | undefined;
  for (const t of targets) if (name.startsWith(t.prefix) && (!best || t.prefix.length > best.prefix.length)) best = t;
  return best;
}

/** Parses `500M`, `2G`, `1.5GiB` or a byte count. */
export function parseSize(text: string): number {
  const bytes = parseByteSize(text);
  if (bytes === undefined) throw new UpstreamOptionsError(`--cache-max "${text}": expected a size such as 500M, 20G or 1048576`);
  return bytes;
}

/** Parses `--tag-ttl` seconds (0 revalidates on every request). */
export function parseTtlSeconds(text: string | number): number {
  const n = Number(text);
  if (!Number.isFinite(n) || n < 0) throw new UpstreamOptionsError(`--tag-ttl "${text}": expected seconds, e.g. 60`);
  return n;
}
