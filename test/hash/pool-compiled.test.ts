import { afterAll, expect, test } from "bun:test";
import { createHash, randomBytes } from "node:crypto";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { zstdDecompressSync } from "node:zlib";

const root = resolve(import.meta.dir, "../..");
const dir = mkdtempSync(join(tmpdir(), "2dfs-compiled-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const sha = (b: Uint8Array) => `sha256:${createHash("sha256").update(b).digest("hex")}` as const;

// The pool must find its worker inside a `bun build --compile` binary run far from the source tree.
test("the pool works inside a compiled binary, with both engines", () => {
  const exe = join(dir, "pool-bin");
  const build = Bun.spawnSync([process.execPath, "build", "--compile", "./test/hash/fixtures/pool-script.ts", "./wasm/hash-worker.ts", "--outfile", exe], { cwd: root });
  expect(build.stderr.toString()).not.toContain("error");
  expect(build.exitCode).toBe(0);
  const src = join(dir, "input.bin");
  const bytes = new Uint8Array(randomBytes(3 << 20));
  writeFileSync(src, bytes);
  for (const engine of ["native", "wasm"]) {
    const out = join(dir, `layer-${engine}`);
    const run = Bun.spawnSync([exe, src, out, engine], { cwd: dir, timeout: 30_000 });
    expect(run.stderr.toString()).toBe("");
    const { layer, hashed } = JSON.parse(run.stdout.toString());
    const stored = readFileSync(out);
    expect(layer.digest).toBe(sha(stored));
    expect(layer.diffId).toBe(sha(zstdDecompressSync(stored)));
    expect(hashed).toEqual({ digest: sha(bytes), size: bytes.length });
  }
}, 60_000);
