import { afterAll, describe, expect, test } from "bun:test";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import tarStream from "tar-stream";
import { planTarEntries, type TarEntry } from "../../src/archive/tar-entries.ts";
import { TAR_END, TAR_MTIME, tarHeader, tarPadding } from "../../src/archive/tar-header.ts";

const dir = mkdtempSync(join(tmpdir(), "2dfs-tar-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const long100 = `${"d".repeat(60)}/${"n".repeat(60)}.bin`; // > 100 bytes, splits into prefix + name
const long255 = `${"p".repeat(90)}/${"q".repeat(90)}/${"r".repeat(90)}/${"s".repeat(110)}.bin`; // needs PAX
const unicode = `${"ü".repeat(80)}/${"é".repeat(60)}`; // long in bytes, not in characters
const contents = new Map<string, Uint8Array>([
  [`/x/${long100}`, new TextEncoder().encode("long name\n")],
  [`/x/${long255}`, new Uint8Array(513).fill(7)],
  [`/x/${unicode}`, new TextEncoder().encode("unicode")],
  ["/a/b/c/deep.txt", new TextEncoder().encode("deep")],
  ["/empty", new Uint8Array(0)],
  ["/bin/run", new TextEncoder().encode("#!/bin/sh\n")],
]);
const entries = planTarEntries(
  [...contents].map(([dst, bytes]) => ({ src: dst, dst, size: bytes.length, executable: dst === "/bin/run" })),
);

function buildTar(list: TarEntry[]): Uint8Array {
  const parts: Uint8Array[] = [];
  for (const e of list) {
    parts.push(tarHeader(e));
    if (e.type === "file") {
      parts.push(contents.get(`/${e.path}`)!, tarPadding(e.size));
    }
  }
  parts.push(TAR_END);
  return new Uint8Array(Buffer.concat(parts));
}

const tarBytes = buildTar(entries);
const tarPath = join(dir, "layer.tar");
writeFileSync(tarPath, tarBytes);

describe("tarHeader", () => {
  test("every piece is block aligned", () => {
    expect(tarBytes.length % 512).toBe(0);
    for (const e of entries) expect(tarHeader(e).length % 512).toBe(0);
    expect(tarPadding(0).length).toBe(0);
    expect(tarPadding(1).length).toBe(511);
    expect(tarPadding(512).length).toBe(0);
    expect(TAR_END).toEqual(new Uint8Array(1024));
  });

  test("is deterministic", () => {
    expect(buildTar(planTarEntries([...contents].map(([dst, b]) => ({ src: "elsewhere", dst, size: b.length, executable: dst === "/bin/run" }))))).toEqual(tarBytes);
  });

  test("GNU tar lists names, sizes, modes, owner and mtime", () => {
    const proc = Bun.spawnSync(["tar", "--numeric-owner", "--full-time", "--quoting-style=literal", "-tvf", tarPath], { env: { TZ: "UTC", LC_ALL: "C" } });
    expect(proc.exitCode).toBe(0);
    const lines = proc.stdout.toString().trim().split("\n");
    expect(lines.length).toBe(entries.length);
    lines.forEach((line, i) => {
      const e = entries[i]!;
      const perms = (e.type === "dir" ? "d" : "-") + (e.mode === 0o755 ? "rwxr-xr-x" : "rw-r--r--");
      expect(line.startsWith(perms)).toBe(true);
      expect(line).toContain(" 0/0 ");
      expect(line).toContain(" 2000-01-01 00:00:00 ");
      expect(line.endsWith(` ${e.path}`)).toBe(true);
      expect(line.split(/ +/)[2]).toBe(String(e.size));
    });
  });

  test("GNU tar extracts the same bytes", () => {
    const out = join(dir, "gnu");
    Bun.spawnSync(["mkdir", "-p", out]);
    const proc = Bun.spawnSync(["tar", "-xf", tarPath, "-C", out]);
    expect(proc.stderr.toString()).toBe("");
    for (const [dst, bytes] of contents) {
      expect(new Uint8Array(require("node:fs").readFileSync(join(out, dst)))).toEqual(bytes);
    }
  });

  test("tar-stream reads names, types, modes and contents back", async () => {
    const extract = tarStream.extract();
    extract.end(Buffer.from(tarBytes));
    const seen: { name: string; type: string; mode: number; uid: number; gid: number; uname: string; gname: string; mtime: number; data: Uint8Array }[] = [];
    for await (const entry of extract) {
      const chunks: Buffer[] = [];
      for await (const c of entry) chunks.push(c as Buffer);
      const h = entry.header;
      seen.push({
        name: h.name, type: h.type ?? "", mode: h.mode ?? -1, uid: h.uid ?? -1, gid: h.gid ?? -1,
        uname: h.uname ?? "", gname: h.gname ?? "", mtime: (h.mtime?.getTime() ?? 0) / 1000, data: new Uint8Array(Buffer.concat(chunks)),
      });
    }
    expect(seen.map((s) => s.name)).toEqual(entries.map((e) => e.path));
    seen.forEach((s, i) => {
      const e = entries[i]!;
      expect(s.type).toBe(e.type === "dir" ? "directory" : "file");
      expect(s.mode).toBe(e.mode);
      expect([s.uid, s.gid, s.uname, s.gname, s.mtime]).toEqual([0, 0, "", "", TAR_MTIME]);
      if (e.type === "file") expect(s.data).toEqual(contents.get(`/${e.path}`)!);
    });
  });

  test("only a path that fits neither name nor prefix gets a PAX header", () => {
    const short = tarHeader({ path: `x/${long100}`, type: "file", mode: 0o644, size: 1 });
    expect(short.length).toBe(512);
    const pax = tarHeader({ path: `x/${long255}`, type: "file", mode: 0o644, size: 1 });
    expect(String.fromCharCode(pax[156]!)).toBe("x");
    const record = new TextDecoder().decode(pax.subarray(512, 1024)).replace(/\0+$/, "");
    const len = Number(record.split(" ")[0]);
    expect(new TextEncoder().encode(record).length).toBe(len);
    expect(record).toBe(`${len} path=x/${long255}\n`);
  });

  test("a file of 8 GiB or more gets a PAX size record", () => {
    const size = 8 * 1024 ** 3 + 5;
    const h = tarHeader({ path: "big.bin", type: "file", mode: 0o644, size });
    expect(h.length).toBe(1536);
    expect(String.fromCharCode(h[156]!)).toBe("x");
    const record = new TextDecoder().decode(h.subarray(512, 1024)).replace(/\0+$/, "");
    expect(record).toBe(`${new TextEncoder().encode(record).length} size=${size}\n`);
    const under = tarHeader({ path: "big.bin", type: "file", mode: 0o644, size: 8 * 1024 ** 3 - 1 });
    expect(under.length).toBe(512);
  });

  test("tar-stream reports the PAX size of a >= 8 GiB entry", async () => {
    const size = 9 * 1024 ** 3;
    const extract = tarStream.extract();
    // Header only: the stream is cut short, so read the first entry's header and stop.
    const got = new Promise<number>((resolve, reject) => {
      extract.on("entry", (header, stream) => {
        resolve(header.size ?? -1);
        stream.resume();
      });
      extract.on("error", reject);
    });
    extract.write(Buffer.from(tarHeader({ path: "big.bin", type: "file", mode: 0o644, size })));
    expect(await got).toBe(size);
    extract.destroy();
  });

  test("GNU tar lists the size of a >= 8 GiB entry (header only)", () => {
    const size = 9 * 1024 ** 3 + 1;
    const path = join(dir, "big-header.tar");
    writeFileSync(path, tarHeader({ path: "big.bin", type: "file", mode: 0o644, size }));
    const proc = Bun.spawnSync(["tar", "-tvf", path], { env: { LC_ALL: "C" } });
    const line = proc.stdout.toString().trim();
    expect(line.split(/ +/)[2]).toBe(String(size));
    expect(line.endsWith(" big.bin")).toBe(true);
  });
});
