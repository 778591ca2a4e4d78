/**
 * A tiny deterministic ustar writer for test fixtures. Deliberately independent of src/archive so
 * the fixtures exercise 2dfs instead of being produced by the code under test.
 */

/** One entry of a fixture tar. */
export type TarEntry =
  | { type: "dir"; path: string; mode?: number }
  | { type: "file"; path: string; data: Uint8Array; mode?: number }
  | { type: "symlink"; path: string; target: string };

const BLOCK = 512;
const encoder = new TextEncoder();

function putString(header: Uint8Array, offset: number, length: number, value: string): void {
  const bytes = encoder.encode(value);
  if (bytes.length > length) throw new Error(`tar field too long: ${value}`);
  header.set(bytes, offset);
}

function putOctal(header: Uint8Array, offset: number, length: number, value: number): void {
  // length-1 octal digits then NUL, as ustar expects.
  putString(header, offset, length, `${value.toString(8).padStart(length - 1, "0")}\0`);
}

function toHeader(entry: TarEntry, size: number): Uint8Array {
  const header = new Uint8Array(BLOCK);
  const name = entry.type === "dir" && !entry.path.endsWith("/") ? `${entry.path}/` : entry.path;
  putString(header, 0, 100, name);
  const mode = entry.type === "symlink" ? 0o777 : (entry.mode ?? (entry.type === "dir" ? 0o755 : 0o644));
  putOctal(header, 100, 8, mode);
  putOctal(header, 108, 8, 0); // uid
  putOctal(header, 116, 8, 0); // gid
  putOctal(header, 124, 12, size);
  putOctal(header, 136, 12, 0); // mtime: the epoch, for reproducible digests
  header.fill(0x20, 148, 156); // checksum is computed with its own field as spaces
  header[156] = (entry.type === "file" ? "0" : entry.type === "dir" ? "5" : "2").charCodeAt(0);
  if (entry.type === "symlink") putString(header, 157, 100, entry.target);
  putString(header, 257, 6, "ustar\0");
  putString(header, 263, 2, "00");
  putString(header, 265, 32, "root");
  putString(header, 297, 32, "root");
  let sum = 0;
  for (const byte of header) sum += byte;
  putString(header, 148, 8, `${sum.toString(8).padStart(6, "0")}\0 `);
  return header;
}

/** Serialises entries, in the given order, into one uncompressed tar (fixtures are small: kept in memory). */
export function toTarBytes(entries: readonly TarEntry[]): Uint8Array {
  const parts: Uint8Array[] = [];
  for (const entry of entries) {
    const data = entry.type === "file" ? entry.data : new Uint8Array(0);
    parts.push(toHeader(entry, data.length));
    if (data.length > 0) {
      parts.push(data);
      const pad = (BLOCK - (data.length % BLOCK)) % BLOCK;
      if (pad > 0) parts.push(new Uint8Array(pad));
    }
  }
  parts.push(new Uint8Array(BLOCK * 2)); // end-of-archive marker
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let offset = 0;
  for (const part of parts) {
    out.set(part, offset);
    offset += part.length;
  }
  return out;
}
