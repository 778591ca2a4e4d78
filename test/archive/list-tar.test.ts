import { afterAll, expect, test } from "bun:test";
import { gzipSync } from "node:zlib";
import { readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { listTarFiles } from "../../src/archive/list-tar.ts";
import { indexUncompressedTar } from "../../src/archive/tar-index.ts";
import { planTarEntries } from "../../src/archive/tar-entries.ts";
import { TAR_END, tarHeader, tarPadding } from "../../src/archive/tar-header.ts";
import { makeTempDir, seededBytes } from "../support/temp.ts";

const { dir, cleanup } = await makeTempDir();
afterAll(cleanup);

test("headers-only listing of an uncompressed tar agrees with a full parse of the gzipped one, long names included", async () => {
  const long = `/deep/${"d".repeat(120)}/${"f".repeat(150)}.bin`;
  const files = [
    { dst: "/a/x.bin", size: 1000 },
    { dst: long, size: 3000 },
    { dst: "/a/empty", size: 0 },
  ];
  for (const [i, f] of files.entries()) await writeFile(join(dir, `s${i}`), seededBytes(f.size, i + 1));
  const entries = planTarEntries(files.map((f, i) => ({ src: join(dir, `s${i}`), dst: f.dst, size: f.size, executable: false })));
  const parts: Uint8Array[] = [];
  for (const e of entries) {
    parts.push(tarHeader(e));
    if (e.type === "file" && e.size > 0) parts.push(new Uint8Array(await readFile(e.src!)), tarPadding(e.size));
  }
  parts.push(TAR_END);
  const tar = Buffer.concat(parts);
  await writeFile(join(dir, "plain.tar"), tar);
  await writeFile(join(dir, "plain.tar.gz"), gzipSync(tar));
  const expected = files.map((f) => ({ path: f.dst, size: f.size })).sort((a, b) => (a.path < b.path ? -1 : 1));
  const sorted = (l: { path: string }[]) => [...l].sort((a, b) => (a.path < b.path ? -1 : 1));
  const index = await indexUncompressedTar(join(dir, "plain.tar"));
  expect(index.filter((e) => e.type === "directory").map((e) => e.name)).toContain("a/");
  expect(index.find((e) => e.name === "a/x.bin")).toMatchObject({ type: "file", mode: 0o644, size: 1000 });
  expect(sorted(await listTarFiles(join(dir, "plain.tar")))).toEqual(expected);
  expect(sorted(await listTarFiles(join(dir, "plain.tar.gz")))).toEqual(expected);
});

test("only headers are read: a file's data is skipped, not read (its bytes need not even be there)", async () => {
  const header = tarHeader({ path: "big.bin", type: "file", mode: 0o644, size: 10_000 });
  const second = tarHeader({ path: "next.bin", type: "file", mode: 0o644, size: 0 });
  const { truncate } = await import("node:fs/promises");
  await writeFile(join(dir, "sparse.tar"), header);
  await truncate(join(dir, "sparse.tar"), 512 + 10_240); // a hole where the data would be
  const { appendFile } = await import("node:fs/promises");
  await appendFile(join(dir, "sparse.tar"), Buffer.concat([second, TAR_END]));
  expect(await listTarFiles(join(dir, "sparse.tar"))).toEqual([
    { path: "/big.bin", size: 10_000 },
    { path: "/next.bin", size: 0 },
  ]);
});

test("a PAX record claiming an oversize length is refused before anything is allocated for it", async () => {
  // A real header with its type turned into "x" (PAX) and a size of 8 GiB - 1 (octal 77777777777).
  const header = tarHeader({ path: "pax", type: "file", mode: 0o644, size: 0 });
  header[156] = "x".charCodeAt(0);
  header.set(new TextEncoder().encode("77777777777\0"), 124);
  // Fix the checksum (sum of all bytes with the checksum field read as spaces), as tar readers check it.
  header.fill(0x20, 148, 156);
  const sum = header.reduce((n, b) => n + b, 0);
  header.set(new TextEncoder().encode(`${sum.toString(8).padStart(6, "0")}\0 `), 148);
  await writeFile(join(dir, "pax-bomb.tar"), Buffer.concat([header, TAR_END]));
  await expect(indexUncompressedTar(join(dir, "pax-bomb.tar"))).rejects.toThrow(/PAX record of 8589934591 bytes .*over the 1048576 byte limit/);
});
