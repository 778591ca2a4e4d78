import { afterAll, describe, expect, test } from "bun:test";
import { closeSync, existsSync, mkdtempSync, openSync, readFileSync, readSync, rmSync, writeFileSync, writeSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { copyFileRange, copyRange } from "../../src/util/copy-file-range.ts";
import { seededBytes } from "../support/temp.ts";

const dir = mkdtempSync(join(tmpdir(), "2dfs-copy-range-"));
// tmpfs, another filesystem than the temp folder's: the kernel refuses to copy from there.
const shm = existsSync("/dev/shm") ? mkdtempSync("/dev/shm/2dfs-copy-range-") : undefined;
afterAll(() => {
  rmSync(dir, { recursive: true, force: true });
  if (shm) rmSync(shm, { recursive: true, force: true });
});

const data = seededBytes(1 << 20, 7);
const sources = [{ where: "same filesystem (kernel copy)", root: dir }, ...(shm ? [{ where: "tmpfs source (read/write)", root: shm }] : [])];

describe("copyRange", () => {
  for (const { where, root } of sources) {
    test(`${where}: a positioned copy lands after what dst holds, and leaves the source's offset alone`, () => {
      const srcPath = join(root, `src-${where.length}`);
      writeFileSync(srcPath, data);
      const dstPath = join(dir, `dst-${where.length}`);
      const src = openSync(srcPath, "r");
      const dst = openSync(dstPath, "w");
      try {
        writeSync(dst, new TextEncoder().encode("HEAD"));
        // 600,000 bytes: more than the fallback's 256 KiB buffer, so it loops.
        expect(copyRange(src, dst, 600_000, 4096)).toBe(600_000);
        // Past the source's end: only what is there.
        expect(copyRange(src, dst, 5_000, data.length - 1_000)).toBe(1_000);
        const first = new Uint8Array(16);
        readSync(src, first, 0, 16, null);
        expect(first).toEqual(data.subarray(0, 16));
      } finally {
        closeSync(src);
        closeSync(dst);
      }
      const out = readFileSync(dstPath);
      expect(out.subarray(0, 4).toString()).toBe("HEAD");
      expect(new Uint8Array(out.subarray(4, 600_004))).toEqual(data.subarray(4096, 604_096));
      expect(new Uint8Array(out.subarray(600_004))).toEqual(data.subarray(data.length - 1_000));
    });

    test(`${where}: an unpositioned copy continues from the source's offset`, () => {
      const srcPath = join(root, `seq-${where.length}`);
      writeFileSync(srcPath, data);
      const dstPath = join(dir, `seq-dst-${where.length}`);
      const src = openSync(srcPath, "r");
      const dst = openSync(dstPath, "w");
      try {
        expect(copyRange(src, dst, 300_000)).toBe(300_000);
        expect(copyRange(src, dst, 2 << 20)).toBe(data.length - 300_000);
      } finally {
        closeSync(src);
        closeSync(dst);
      }
      expect(new Uint8Array(readFileSync(dstPath))).toEqual(data);
    });
  }

  test.skipIf(!shm)("copyFileRange answers undefined, copying nothing, where the kernel refuses", () => {
    writeFileSync(join(shm!, "refused"), data);
    const src = openSync(join(shm!, "refused"), "r");
    const dst = openSync(join(dir, "refused-dst"), "w");
    try {
      expect(copyFileRange(src, dst, 4096)).toBeUndefined();
      expect(copyFileRange(src, dst, 4096, 100)).toBeUndefined();
    } finally {
      closeSync(src);
      closeSync(dst);
    }
    expect(readFileSync(join(dir, "refused-dst")).length).toBe(0);
  });
});
