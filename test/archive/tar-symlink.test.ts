import { afterAll, describe, expect, test } from "bun:test";
import { mkdirSync, mkdtempSync, readFileSync, readlinkSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { gunzipSync } from "node:zlib";
import { planTarEntries, TarPlanError } from "../../src/archive/tar-entries.ts";
import { indexUncompressedTar } from "../../src/archive/tar-index.ts";
import { writeLayer } from "../../src/hash/write-layer.ts";

const dir = mkdtempSync(join(tmpdir(), "2dfs-tar-symlink-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const longTarget = `${"deep/".repeat(30)}model.bin`; // 159 bytes: over ustar's 100-byte linkname, so PAX linkpath
writeFileSync(join(dir, "w.bin"), "weights");
const files = [
  { src: join(dir, "w.bin"), dst: "/m/v1/w.bin", size: 7, executable: false },
  { src: join(dir, "link-a"), dst: "/m/current", size: 0, executable: false, linkTarget: "v1/w.bin" },
  { src: join(dir, "link-b"), dst: "/m/far", size: 0, executable: false, linkTarget: longTarget },
];

describe("symlink entries", () => {
  test("are planned as type symlink, mode 0777, size 0, sorted with the rest", () => {
    expect(planTarEntries(files).map((e) => [e.path, e.type, e.mode, e.size, e.linkTarget])).toEqual([
      ["m/", "dir", 0o755, 0, undefined],
      ["m/current", "symlink", 0o777, 0, "v1/w.bin"],
      ["m/far", "symlink", 0o777, 0, longTarget],
      ["m/v1/", "dir", 0o755, 0, undefined],
      ["m/v1/w.bin", "file", 0o644, 7, undefined],
    ]);
    expect(() => planTarEntries([{ ...files[1]!, linkTarget: "" }])).toThrow(TarPlanError);
  });

  for (const compression of ["none", "gzip"] as const) {
    test(`a ${compression} layer holds them as typeflag 2 with the target verbatim; GNU tar extracts real links`, async () => {
      const outPath = join(dir, `layer-${compression}`);
      const result = await writeLayer({ entries: planTarEntries(files), compression, outPath });
      const tarPath = join(dir, `layer-${compression}.tar`);
      const stored = readFileSync(outPath);
      writeFileSync(tarPath, compression === "gzip" ? gunzipSync(stored) : stored);
      const index = await indexUncompressedTar(tarPath);
      expect(index.map((e) => [e.name, e.type, e.linkname ?? "", e.size])).toEqual([
        ["m/", "directory", "", 0],
        ["m/current", "symlink", "v1/w.bin", 0],
        ["m/far", "symlink", longTarget, 0],
        ["m/v1/", "directory", "", 0],
        ["m/v1/w.bin", "file", "", 7],
      ]);
      const root = join(dir, `x-${compression}`);
      mkdirSync(root);
      const tar = Bun.spawnSync(["tar", "-xf", tarPath, "-C", root]);
      expect(tar.stderr.toString()).toBe("");
      expect(readlinkSync(join(root, "m/current"))).toBe("v1/w.bin");
      expect(readlinkSync(join(root, "m/far"))).toBe(longTarget);
      expect(readFileSync(join(root, "m/current"), "utf8")).toBe("weights");
      // The same entries give the same bytes.
      const again = await writeLayer({ entries: planTarEntries(files), compression, outPath: join(dir, `again-${compression}`) });
      expect(again.diffId).toBe(result.diffId);
    });
  }
});
