/** Deterministic ustar/PAX headers: fixed owner, times and names so equal inputs give equal bytes anywhere. */
import type { TarEntry } from "./tar-entries.ts";

const BLOCK = 512;
/** 2000-01-01T00:00:00Z: the fixed mtime of every entry (the reference format's choice). */
export const TAR_MTIME = 946684800;
/** Largest size an 11-digit octal ustar field can hold; from 8 GiB on a PAX `size` record is needed. */
const MAX_OCTAL_SIZE = 8 ** 11 - 1;
const NAME_LEN = 100;
const PREFIX_LEN = 155;
const LINK_LEN = 100;

/** The two zero blocks that end every tar archive. */
export const TAR_END: Uint8Array = new Uint8Array(2 * BLOCK);

const encoder = new TextEncoder();

/** Zero bytes that pad a file's data of `size` bytes up to the next 512-byte block. */
export function tarPadding(size: number): Uint8Array {
  return new Uint8Array((BLOCK - (size % BLOCK)) % BLOCK);
}

/** The header block(s) of one entry: a PAX extended header first when the path, link target or size does not fit ustar. */
export function tarHeader(entry: TarEntry): Uint8Array {
  const path = encoder.encode(entry.path);
  const split = splitUstarPath(path);
  const bigSize = entry.size > MAX_OCTAL_SIZE;
  const typeflag = entry.type === "dir" ? "5" : entry.type === "symlink" ? "2" : "0";
  const size = entry.type === "file" ? entry.size : 0;
  const link = entry.type === "symlink" ? encoder.encode(entry.linkTarget ?? "") : new Uint8Array(0);
  const longLink = link.length > LINK_LEN;
  if (split && !bigSize && !longLink) return ustarBlock(split.name, split.prefix, entry.mode, size, typeflag, link);

  const records: string[] = [];
  if (!split) records.push(paxRecord("path", entry.path));
  if (longLink) records.push(paxRecord("linkpath", entry.linkTarget!));
  if (bigSize) records.push(paxRecord("size", String(size)));
  const paxData = encoder.encode(records.join(""));
  // Readers that ignore PAX still get a usable (truncated) name; the PAX header's own name is fixed so output stays deterministic.
  const fallback = split ?? { name: truncateUtf8(path, NAME_LEN), prefix: new Uint8Array(0) };
  const paxName = encoder.encode("PaxHeaders/");
  const paxHeaderName = concat(paxName, truncateUtf8(lastComponent(path), NAME_LEN - paxName.length));
  const out = new Uint8Array(BLOCK + paxData.length + tarPadding(paxData.length).length + BLOCK);
  out.set(ustarBlock(paxHeaderName, new Uint8Array(0), 0o644, paxData.length, "x", new Uint8Array(0)), 0);
  out.set(paxData, BLOCK);
  out.set(ustarBlock(fallback.name, fallback.prefix, entry.mode, size, typeflag, truncateUtf8(link, LINK_LEN)), out.length - BLOCK);
  return out;
}

/** Splits a path into ustar name (<= 100 bytes) and prefix (<= 155 bytes) at a "/", or null when it cannot. */
function splitUstarPath(path: Uint8Array): { name: Uint8Array; prefix: Uint8Array } | null {
  if (path.length <= NAME_LEN) return { name: path, prefix: new Uint8Array(0) };
  // The name part must be non-empty, so a directory's trailing "/" is not a split point.
  for (let i = path.length - 2; i >= 0; i--) {
    if (path[i] !== 0x2f) continue;
    if (path.length - i - 1 > NAME_LEN) break;
    if (i <= PREFIX_LEN) return { name: path.subarray(i + 1), prefix: path.subarray(0, i) };
  }
  return null;
}

/** The fields every header shares (owner, mtime, magic, devices), filled once; each header starts as a copy. */
const TEMPLATE = (() => {
  const b = new Uint8Array(BLOCK);
  writeOctal(b, 108, 8, 0); // uid
  writeOctal(b, 116, 8, 0); // gid
  writeOctal(b, 136, 12, TAR_MTIME);
  b.set(encoder.encode("ustar\x0000"), 257);
  // uname/gname stay empty: no host user leaks into the layer.
  writeOctal(b, 329, 8, 0); // devmajor
  writeOctal(b, 337, 8, 0); // devminor
  return b;
})();

function ustarBlock(name: Uint8Array, prefix: Uint8Array, mode: number, size: number, typeflag: string, linkname: Uint8Array): Uint8Array {
  const b = new Uint8Array(BLOCK);
  b.set(TEMPLATE);
  b.set(name, 0);
  writeOctal(b, 100, 8, mode & 0o7777);
  if (size > MAX_OCTAL_SIZE) writeBase256(b, 124, 12, size);
  else writeOctal(b, 124, 12, size);
  b.fill(0x20, 148, 156); // the checksum is computed with its own field as spaces
  b[156] = typeflag.charCodeAt(0);
  b.set(linkname, 157);
  b.set(prefix, 345);
  let sum = 0;
  for (let i = 0; i < BLOCK; i++) sum += b[i]!;
  writeOctal(b, 148, 7, sum);
  b[155] = 0x20;
  return b;
}

/** Zero-padded octal, NUL-terminated, filling `width` bytes (digits written directly: this runs for every entry). */
function writeOctal(b: Uint8Array, offset: number, width: number, value: number): void {
  let v = value;
  b[offset + width - 1] = 0;
  for (let i = offset + width - 2; i >= offset; i--) {
    b[i] = 0x30 + (v % 8);
    v = Math.floor(v / 8);
  }
}

/** GNU base-256 numeric field (high bit set), for sizes beyond octal range, read by GNU tar and most libraries. */
function writeBase256(b: Uint8Array, offset: number, width: number, value: number): void {
  let v = value;
  for (let i = offset + width - 1; i > offset; i--) {
    b[i] = v % 256;
    v = Math.floor(v / 256);
  }
  b[offset] = 0x80;
}

/** One PAX record: "<len> <key>=<value>\n", where len counts the whole record including its own digits. */
function paxRecord(key: string, value: string): string {
  const body = ` ${key}=${value}\n`;
  const bodyLen = encoder.encode(body).length;
  let len = bodyLen + 1;
  while (String(len).length + bodyLen !== len) len = String(len).length + bodyLen;
  return `${len}${body}`;
}

function lastComponent(path: Uint8Array): Uint8Array {
  const end = path[path.length - 1] === 0x2f ? path.length - 1 : path.length;
  const start = path.lastIndexOf(0x2f, end - 1) + 1;
  return path.subarray(start, end);
}

/** Cuts to at most `max` bytes without splitting a UTF-8 sequence. */
function truncateUtf8(bytes: Uint8Array, max: number): Uint8Array {
  if (bytes.length <= max) return bytes;
  let end = max;
  while (end > 0 && ((bytes[end] ?? 0) & 0xc0) === 0x80) end--;
  return bytes.subarray(0, end);
}

function concat(a: Uint8Array, b: Uint8Array): Uint8Array {
  const out = new Uint8Array(a.length + b.length);
  out.set(a, 0);
  out.set(b, a.length);
  return out;
}
