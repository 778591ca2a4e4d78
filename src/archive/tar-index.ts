/**
 * Lists an uncompressed tar by hopping from header to header: only the 512-byte headers (and
 * PAX records) are read, so listing a 10 GB allotment reads a few KiB, not 10 GB.
 */
import { open } from "node:fs/promises";

/** A regular file in the tar. */
export interface TarIndexEntry {
  path: string;
  size: number;
}

const BLOCK = 512;
const decoder = new TextDecoder();

/** The regular files of the uncompressed tar at `path`, in archive order. */
export async function indexUncompressedTar(path: string): Promise<TarIndexEntry[]> {
  const fh = await open(path, "r");
  try {
    const { size: total } = await fh.stat();
    const header = new Uint8Array(BLOCK);
    const out: TarIndexEntry[] = [];
    let offset = 0;
    let pax: Record<string, string> = {};
    while (offset + BLOCK <= total) {
      await readFully(fh, header, offset);
      if (header.every((b) => b === 0)) break; // end-of-archive marker
      const type = String.fromCharCode(header[156] || 48);
      const size = pax.size !== undefined ? Number(pax.size) : readSize(header);
      const dataStart = offset + BLOCK;
      if (type === "x") {
        const data = new Uint8Array(size);
        await readFully(fh, data, dataStart);
        pax = parsePax(decoder.decode(data));
      } else {
        if (type === "0" || type === "\0" || type === "7") out.push({ path: `/${(pax.path ?? ustarName(header)).replace(/^\.?\//, "")}`, size });
        if (type !== "g") pax = {};
      }
      offset = dataStart + Math.ceil(size / BLOCK) * BLOCK;
    }
    return out;
  } finally {
    await fh.close();
  }
}

async function readFully(fh: import("node:fs/promises").FileHandle, buf: Uint8Array, position: number): Promise<void> {
  const { bytesRead } = await fh.read(buf, 0, buf.length, position);
  if (bytesRead !== buf.length) throw new Error(`truncated tar: wanted ${buf.length} bytes at ${position}, got ${bytesRead}`);
}

function field(header: Uint8Array, start: number, length: number): string {
  const bytes = header.subarray(start, start + length);
  const end = bytes.indexOf(0);
  return decoder.decode(end < 0 ? bytes : bytes.subarray(0, end));
}

function ustarName(header: Uint8Array): string {
  const name = field(header, 0, 100);
  const prefix = field(header, 345, 155);
  return prefix ? `${prefix}/${name}` : name;
}

// Octal, or GNU base-256 when the top bit of the first byte is set (sizes of 8 GiB and more).
function readSize(header: Uint8Array): number {
  if (header[124]! & 0x80) {
    let value = header[124]! & 0x7f;
    for (let i = 125; i < 136; i++) value = value * 256 + header[i]!;
    return value;
  }
  return Number.parseInt(field(header, 124, 12).trim() || "0", 8);
}

// PAX records: "<length> <key>=<value>\n", the length counting the whole record.
function parsePax(text: string): Record<string, string> {
  const out: Record<string, string> = {};
  let i = 0;
  while (i < text.length) {
    const space = text.indexOf(" ", i);
    if (space < 0) break;
    const length = Number(text.slice(i, space));
    if (!Number.isInteger(length) || length <= 0) break;
    const record = text.slice(space + 1, i + length - 1);
    const eq = record.indexOf("=");
    if (eq > 0) out[record.slice(0, eq)] = record.slice(eq + 1);
    i += length;
  }
  return out;
}
