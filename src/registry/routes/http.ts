/** HTTP helpers shared by the routes: error envelopes, ranges, pagination, bounded bodies. */
import { OciError } from "../../oci/errors.ts";

/** The header every distribution API response carries. */
export const API_VERSION_HEADER = { "Docker-Distribution-API-Version": "registry/2.0" } as const;

/** The spec's JSON error envelope as a response. */
export function errorResponse(error: OciError, extraHeaders: Record<string, string> = {}): Response {
  return new Response(JSON.stringify(error.toJSON()), {
    status: error.status,
    headers: { "Content-Type": "application/json", ...API_VERSION_HEADER, ...extraHeaders },
  });
}

/** A JSON body response. */
export function jsonResponse(body: unknown, headers: Record<string, string> = {}, status = 200): Response {
  return new Response(JSON.stringify(body), { status, headers: { "Content-Type": "application/json", ...headers } });
}

/** An inclusive byte range. */
export interface ByteRange {
  start: number;
  end: number;
}

/**
 * Parses a `Range: bytes=a-b | a- | -n` request header against a size. Returns undefined
 * when there is no header; throws RANGE_INVALID (416) when it cannot be satisfied.
 */
export function parseRangeHeader(header: string | null, size: number): ByteRange | undefined {
  if (header === null) return undefined;
  const m = /^bytes=(\d*)-(\d*)$/.exec(header.trim());
  const fail = (why: string) => new OciError("RANGE_INVALID", `Range "${header}" ${why} (blob is ${size} bytes)`);
  if (!m) throw fail(header.includes(",") ? "asks for several ranges; only one is supported" : "is not bytes=start-end");
  const [, a = "", b = ""] = m;
  if (a === "" && b === "") throw fail("names no bytes");
  if (a === "") {
    const n = Number(b);
    if (n === 0 || size === 0) throw fail("is empty");
    return { start: Math.max(0, size - n), end: size - 1 };
  }
  const start = Number(a);
  const end = b === "" ? size - 1 : Math.min(Number(b), size - 1);
  if (start >= size || (b !== "" && Number(b) < start)) throw fail("is outside the blob");
  return { start, end };
}

/** Parses an upload chunk's `Content-Range: a-b` (the spec's form; `bytes a-b/*` is tolerated). */
export function parseContentRange(header: string | null): ByteRange | undefined {
  if (header === null) return undefined;
  const m = /^(?:bytes[ =])?(\d+)-(\d+)(?:\/(?:\d+|\*))?$/.exec(header.trim());
  if (!m) throw new OciError("RANGE_INVALID", `Content-Range "${header}" is not start-end`);
  const start = Number(m[1]);
  const end = Number(m[2]);
  if (end < start) throw new OciError("RANGE_INVALID", `Content-Range "${header}" ends before it starts`);
  return { start, end };
}

/** Parses an optional `Content-Length`. */
export function parseContentLength(header: string | null): number | undefined {
  if (header === null || header === "") return undefined;
  const n = Number(header);
  if (!Number.isSafeInteger(n) || n < 0) throw new OciError("SIZE_INVALID", `Content-Length "${header}" is not a byte count`);
  return n;
}

/** Reads a whole request body, failing once it passes `limit` bytes (never buffers more). */
export async function readBodyLimited(request: Request, limit: number, tooLarge: () => OciError): Promise<Uint8Array> {
  const declared = parseContentLength(request.headers.get("content-length"));
  if (declared !== undefined && declared > limit) throw tooLarge();
  if (!request.body) return new Uint8Array(0);
  const chunks: Uint8Array[] = [];
  let total = 0;
  for await (const chunk of request.body) {
    total += chunk.byteLength;
    if (total > limit) throw tooLarge();
    chunks.push(chunk);
  }
  const out = new Uint8Array(total);
  let at = 0;
  for (const c of chunks) {
    out.set(c, at);
    at += c.byteLength;
  }
  return out;
}

/** One page of a sorted list after `last`, at most `n` entries, and whether more follow. */
export function paginate(items: readonly string[], url: URL): { page: string[]; next?: string } {
  const nText = url.searchParams.get("n");
  const last = url.searchParams.get("last");
  let start = 0;
  if (last !== null) {
    start = items.findIndex((t) => t > last);
    if (start < 0) start = items.length;
  }
  if (nText === null) return { page: items.slice(start) };
  const n = Number(nText);
  if (!Number.isSafeInteger(n) || n < 0) {
    throw new OciError("UNSUPPORTED", `n=${nText} is not a non-negative integer`, { status: 400 });
  }
  const page = items.slice(start, start + n);
  const more = start + n < items.length && page.length > 0;
  if (!more) return { page };
  const next = new URLSearchParams({ n: String(n), last: page[page.length - 1]! });
  return { page, next: `<${url.pathname}?${next}>; rel="next"` };
}
