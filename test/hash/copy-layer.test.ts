import { afterAll, describe, expect, test } from "bun:test";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statfsSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { gunzipSync, zstdDecompressSync } from "node:zlib";
import { join } from "node:path";
import { planTarEntries, type LayerFile } from "../../src/archive/tar-entries.ts";
import { copyLayer } from "../../src/hash/copy-layer.ts";
import { SourceChangedError } from "../../src/hash/read-chunks.ts";
import { writeBufferedLayer } from "../../src/hash/write-layer.ts";
import { kernelCopyAvailable } from "../../src/util/copy-file-range.ts";
import { seededBytes } from "../support/temp.ts";

const dir = mkdtempSync(join(tmpdir(), "2dfs-copy-layer-"));
// tmpfs: a different filesystem from the temp folder's, so the kernel will not copy between them.
const shm = existsSync("/dev/shm") ? mkdtempSync("/dev/shm/2dfs-copy-layer-") : undefined;
afterAll(() => {
  rmSync(dir, { recursive: true, force: true });
  if (shm) rmSync(shm, { recursive: true, force: true });
});

function sources(root: string): LayerFile[] {
  mkdirSync(root, { recursive: true });
  const file = (name: string, bytes: Uint8Array, dst: string, executable = false): LayerFile => {
    writeFileSync(join(root, name), bytes);
    return { src: join(root, name), dst, size: bytes.length, executable };
  };
  return [
    // Sizes that are not multiples of 512 (padding) and cross the 2 MiB read chunk of the buffered path.
    file("weights.bin", seededBytes((5 << 20) + 77, 1), "/model/weights.bin"),
    file("exactly-512", seededBytes(512, 2), "/model/exactly-512"),
    file("empty", new Uint8Array(0), "/etc/empty"),
    file("tool", seededBytes(999, 3), "/usr/local/bin/tool", true),
  ];
}

describe("copyLayer (uncompressed layers by copy_file_range)", () => {
  test("this machine can copy in the kernel (otherwise builds silently take the buffered path)", () => {
    expect(kernelCopyAvailable()).toBe(true);
  });

  test("gives the same bytes and digests as the buffered writer", async () => {
    const entries = planTarEntries(sources(join(dir, "src")));
    const copied = await copyLayer({ entries, compression: "none", outPath: join(dir, "copied.tar") });
    const buffered = await writeBufferedLayer({ entries, compression: "none", outPath: join(dir, "buffered.tar") });
    expect(copied).toEqual(buffered);
    expect(readFileSync(join(dir, "copied.tar")).equals(readFileSync(join(dir, "buffered.tar")))).toBe(true);
    const independent = new Bun.CryptoHasher("sha256").update(readFileSync(join(dir, "copied.tar"))).digest("hex");
    expect(copied.digest).toBe(`sha256:${independent}`);
  });

  test.skipIf(!shm)("a source the kernel cannot copy from (tmpfs) is copied by read/write, same bytes", async () => {
    const local = planTarEntries(sources(join(dir, "src-local")));
    const remote = planTarEntries(sources(join(shm!, "src")));
    expect(statfsSync(shm!).type).not.toBe(statfsSync(dir).type);
    const a = await copyLayer({ entries: local, compression: "none", outPath: join(dir, "local.tar") });
    const b = await copyLayer({ entries: remote, compression: "none", outPath: join(dir, "remote.tar") });
    expect(b).toEqual(a);
  });

  test("a source whose size changed since planning fails and leaves no output", async () => {
    const root = join(dir, "src-changed");
    const entries = planTarEntries(sources(root));
    writeFileSync(join(root, "weights.bin"), seededBytes(1000, 9)); // smaller than planned
    const outPath = join(dir, "changed.tar");
    const error = await copyLayer({ entries, compression: "none", outPath }).catch((e) => e);
    expect(error).toBeInstanceOf(SourceChangedError);
    expect(String(error.message)).toContain("weights.bin");
    expect(existsSync(outPath)).toBe(false);
  });

  test("a missing source fails and leaves no output", async () => {
    const root = join(dir, "src-missing");
    const entries = planTarEntries(sources(root));
    rmSync(join(root, "tool"));
    const outPath = join(dir, "missing.tar");
    await expect(copyLayer({ entries, compression: "none", outPath })).rejects.toThrow(/tool/);
    expect(existsSync(outPath)).toBe(false);
  });
});

describe("writeBufferedLayer, compressed (the tar crosses several 2 MiB chunks)", () => {
  for (const compression of ["gzip", "zstd"] as const) {
    test(`${compression}: the stored bytes decompress to exactly the tar the buffered writer hashes, and to the uncompressed layer`, async () => {
      // gzip compresses each chunk before the next is read into the one buffer it uses; zstd streams from two.
      const entries = planTarEntries(sources(join(dir, `src-${compression}`)));
      const plain = await writeBufferedLayer({ entries, compression: "none", outPath: join(dir, `${compression}-plain.tar`) });
      const outPath = join(dir, `${compression}.tar.${compression === "gzip" ? "gz" : "zst"}`);
      const packed = await writeBufferedLayer({ entries, compression, outPath });
      const stored = readFileSync(outPath);
      const tar = compression === "gzip" ? gunzipSync(stored) : zstdDecompressSync(stored);
      expect(tar.equals(readFileSync(join(dir, `${compression}-plain.tar`)))).toBe(true);
      expect(packed.diffId).toBe(plain.diffId);
      expect(packed.tarSize).toBe(tar.length);
      expect(packed.digest).toBe(`sha256:${new Bun.CryptoHasher("sha256").update(stored).digest("hex")}`);
      expect(packed.size).toBe(stored.length);
      expect(tar.length).toBeGreaterThan(2 * (2 << 20)); // three chunks at least
      if (compression === "gzip") {
        // One libdeflate member per 2 MiB of tar at gzip's level (README, "Library choices"), so the
        // bytes depend on the content alone: the same members made here one by one match.
        const members: Uint8Array[] = [];
        for (let at = 0; at < tar.length; at += 2 << 20) members.push(Bun.gzipSync(tar.subarray(at, at + (2 << 20)), { level: 6, library: "libdeflate" }));
        expect(stored.equals(Buffer.concat(members))).toBe(true);
      }
    });
  }
});
