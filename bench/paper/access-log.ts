/** Bytes a registry sent, read from its access log (the 2dfs serve and distribution formats both carry `"METHOD PATH ..." STATUS LENGTH`). */
import { open, stat } from "node:fs/promises";

/** Where a log file ends now, to count only the lines written after. */
export async function logOffset(file: string): Promise<number> {
  return (await stat(file).catch(() => ({ size: 0 }))).size;
}

/** Bytes and requests of the successful GETs logged after `offset`. */
export async function bytesSentSince(file: string, offset: number): Promise<{ bytes: number; requests: number }> {
  const fh = await open(file, "r");
  let text: string;
  try {
    const size = (await fh.stat()).size;
    const buf = Buffer.alloc(Math.max(0, size - offset));
    await fh.read(buf, 0, buf.length, offset);
    text = buf.toString("utf8");
  } finally {
    await fh.close();
  }
  return toBytesSent(text);
}

/** Sums the response lengths of GET lines answered 200 or 206 (HEAD sends no body). */
export function toBytesSent(text: string): { bytes: number; requests: number } {
  let bytes = 0;
  let requests = 0;
  for (const m of text.matchAll(/"(GET|HEAD|POST|PUT|PATCH|DELETE) [^"]*" (\d{3}) (\d+|-)/g)) {
    if (m[1] !== "GET" || (m[2] !== "200" && m[2] !== "206")) continue;
    requests++;
    if (m[3] !== "-") bytes += Number(m[3]);
  }
  return { bytes, requests };
}
