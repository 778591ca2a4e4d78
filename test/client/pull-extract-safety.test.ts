// `2dfs pull --format files|rootfs` against hostile images, through the command line and a real
// registry: layers racing each other, links that leave DIR only through other links, broken gzip.
// Each refusal must be one `error: layer sha256:<digest>: <reason>` line, exit 1, nothing written
// outside, DIR as it was and no staging folder left beside it.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { gzipSync, zstdCompressSync } from "node:zlib";
import { mkdir, mkdtemp, readFile, readdir, readlink, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createRegistryClient, type RegistryClient } from "../../src/client/transport/registry-client.ts";
import { run2dfs } from "../support/cli.ts";
import { pushCraftedImage } from "./support/crafted-images.ts";
import { type RunningRegistry, startDistribution } from "./support/distribution.ts";
import { type FakeEntry, makeTar, sha256 } from "./support/layers.ts";

let registry: RunningRegistry;
let client: RegistryClient;
let work: string;
let caseNo = 0;

beforeAll(async () => {
  registry = await startDistribution();
  client = await createRegistryClient({ registry: registry.host, credentials: null });
  work = await mkdtemp(join(tmpdir(), "2dfs-pull-safety-"));
  await mkdir(join(work, "docker-config"));
});

afterAll(async () => {
  await registry.stop();
  await rm(work, { recursive: true, force: true });
});

/** A fresh case folder: `out` (the -o DIR, not created) and `sink` (an outside folder that must stay empty). */
async function freshCase(): Promise<{ dir: string; out: string; sink: string }> {
  const dir = join(work, `case-${++caseNo}`);
  await mkdir(join(dir, "sink"), { recursive: true });
  return { dir, out: join(dir, "out"), sink: join(dir, "sink") };
}

function pull(ref: string, out: string, ...args: string[]) {
  return run2dfs(["pull", `${registry.host}/${ref}`, "-o", out, "--store", join(work, "store"), "--quiet", ...args], {
    env: { DOCKER_CONFIG: join(work, "docker-config") },
  });
}

/** The case folder holds only `sink` (empty) and, when given, `out` with exactly `outNames`. */
async function expectUntouched(c: { dir: string; sink: string }, outNames?: string[]): Promise<void> {
  expect(await readdir(c.sink)).toEqual([]);
  expect((await readdir(c.dir)).sort()).toEqual(outNames ? ["out", "sink"] : ["sink"]);
  if (outNames) expect((await readdir(join(c.dir, "out"))).sort()).toEqual(outNames);
}

function expectLayerError(result: { code: number; stderr: string }, digest: string, reason: RegExp): void {
  expect(result.code).toBe(1);
  const lines = result.stderr.trim().split("\n");
  expect(lines[0]).toStartWith(`error: layer ${digest}: `);
  expect(lines[0]).toMatch(reason);
  // One reason and at most a hint: no stack, no runtime source dump.
  expect(lines.length).toBeLessThanOrEqual(2);
  expect(result.stderr).not.toMatch(/\n\s+at |node:internal|\^$/m);
}

describe("layers extracted in parallel cannot race each other out of DIR", () => {
  test("a layer flipping a folder into an escaping link while another writes into it: refused, nothing outside, 8 of 8 tries", async () => {
    // Allotment 0 makes `a -> .`, so `a/esc -> ../sink` lands at DIR/esc and passes a check of its
    // name alone, and flips `esc` between a folder and that link; allotment 1 writes into `esc/`.
    const flips: FakeEntry[] = [{ name: "a", type: "symlink", linkname: "." }];
    const writes: FakeEntry[] = [];
    for (let i = 1; i <= 300; i++) {
      flips.push({ name: "esc/", type: "directory" }, { name: "a/esc", type: "symlink", linkname: "../sink" });
      writes.push({ name: `esc/EVIL-race-${i}`, content: "pwned\n" });
    }
    const [flipTar, writeTar] = [await makeTar(flips), await makeTar(writes)];
    // Uncompressed allotments take the indexed path, gzip ones the streaming parser: both are raced.
    const plain = await pushCraftedImage(client, "race/img", "plain", { allotments: [{ bytes: flipTar }, { bytes: writeTar }] });
    const gzip = await pushCraftedImage(client, "race/img", "gzip", {
      allotments: [{ bytes: new Uint8Array(gzipSync(flipTar)), gzip: true }, { bytes: new Uint8Array(gzipSync(writeTar)), gzip: true }],
    });
    const escaped: string[][] = [];
    const results: { code: number; stderr: string; digest: string }[] = [];
    for (let attempt = 0; attempt < 8; attempt++) {
      const [tag, digests] = attempt % 2 === 0 ? ["plain", plain] : ["gzip", gzip];
      const c = await freshCase();
      const result = await pull(`race/img:${tag}`, c.out, "--jobs", attempt % 4 < 2 ? "4" : "2");
      results.push({ ...result, digest: digests.allotments[0]! });
      escaped.push(await readdir(c.sink));
      await expectUntouched(c);
    }
    expect(escaped.filter((names) => names.length > 0)).toEqual([]);
    for (const result of results) expectLayerError(result, result.digest, /symlink "a"/);
  }, 120_000);
});

describe("a link that leaves DIR only through other links is refused", () => {
  const escapes: [string, FakeEntry[]][] = [
    // `b`'s name alone says it stays inside; through `a -> .` it climbs out of DIR.
    ["through a link to DIR in the same layer", [{ name: "a", type: "symlink", linkname: "." }, { name: "b", type: "symlink", linkname: "a/a/.." }]],
    ["placed through `a -> .` (rootfs)", [{ name: "a", type: "symlink", linkname: "." }, { name: "a/a/a/b", type: "symlink", linkname: "../../.." }]],
  ];
  for (const format of ["files", "rootfs"] as const) {
    for (const [what, entries] of escapes) {
      if (format === "files" && what.includes("rootfs")) continue;
      test(`${format}: ${what}`, async () => {
        const layer = { bytes: await makeTar(entries) };
        const repo = `escape/${format}-${caseNo}`;
        const digests = await pushCraftedImage(client, repo, "v1", format === "files" ? { allotments: [layer] } : { base: [layer] });
        const c = await freshCase();
        const result = await pull(`${repo}:v1`, c.out, "--format", format);
        expectLayerError(result, (format === "files" ? digests.allotments : digests.base)[0]!, /symlink "(b|a\/a\/a\/b)".*outside/);
        await expectUntouched(c);
      });
    }
  }

  test("files: a second pull into the same DIR cannot escape through a link the first one left", async () => {
    const first = await pushCraftedImage(client, "escape/two-a", "v1", { allotments: [{ bytes: await makeTar([{ name: "a", type: "symlink", linkname: "." }]) }] });
    const second = await pushCraftedImage(client, "escape/two-b", "v1", { allotments: [{ bytes: await makeTar([{ name: "b", type: "symlink", linkname: "a/a/.." }]) }] });
    const c = await freshCase();
    expect((await pull("escape/two-a:v1", c.out)).code).toBe(0);
    expect(await readlink(join(c.out, "a"))).toBe(".");
    expect(first.allotments.length).toBe(1);
    const result = await pull("escape/two-b:v1", c.out);
    expectLayerError(result, second.allotments[0]!, /symlink "b"/);
    await expectUntouched(c, ["a"]);
  });

  test("files: a pull that only puts a folder where DIR had a link cannot turn an older link outward", async () => {
    // First pull: `b -> a/p/../..` stays inside because `p -> q/r` goes two levels down.
    const first = await makeTar([
      { name: "a", type: "symlink", linkname: "." },
      { name: "p", type: "symlink", linkname: "q/r" },
      { name: "b", type: "symlink", linkname: "a/p/../.." },
    ]);
    await pushCraftedImage(client, "escape/fold-a", "v1", { allotments: [{ bytes: first }] });
    // Second pull, no link at all: a folder `p` replaces the link, and `b` would climb out of DIR.
    const second = await pushCraftedImage(client, "escape/fold-b", "v1", { allotments: [{ bytes: await makeTar([{ name: "p/x", content: "x" }]) }] });
    const c = await freshCase();
    expect((await pull("escape/fold-a:v1", c.out)).code).toBe(0);
    const result = await pull("escape/fold-b:v1", c.out);
    expect(result.code).toBe(1);
    expect(result.stderr).toStartWith(`error: the symlink "b" -> "a/p/../.." already in ${c.out} would lead outside it after this pull`);
    expect(second.allotments.length).toBe(1);
    await expectUntouched(c, ["a", "b", "p"]);
    expect(await readlink(join(c.out, "p"))).toBe("q/r");
  });

  test("links that stay inside are kept: relative in files, absolute too in rootfs (verbatim, never followed by 2dfs)", async () => {
    const files = await makeTar([
      { name: "data/w.bin", content: "weights" },
      { name: "latest", type: "symlink", linkname: "data/w.bin" },
      { name: "data/self", type: "symlink", linkname: "../data" },
    ]);
    await pushCraftedImage(client, "inside/files", "v1", { allotments: [{ bytes: files }] });
    const c = await freshCase();
    const ok = await pull("inside/files:v1", c.out);
    expect(ok.stderr).toBe("");
    expect(ok.code).toBe(0);
    expect(await readFile(join(c.out, "latest"), "utf8")).toBe("weights");
    expect(await readlink(join(c.out, "data/self"))).toBe("../data");
    const rootfs = await makeTar([{ name: "bin/sh", type: "symlink", linkname: "/bin/busybox" }, { name: "bin/busybox", content: "#!" }]);
    await pushCraftedImage(client, "inside/rootfs", "v1", { base: [{ bytes: rootfs }] });
    const r = await freshCase();
    expect((await pull("inside/rootfs:v1", r.out, "--format", "rootfs")).code).toBe(0);
    expect(await readlink(join(r.out, "bin/sh"))).toBe("/bin/busybox");
  });
});

describe("a broken or lying compressed layer is a clean error", () => {
  let gz: Uint8Array;
  beforeAll(async () => {
    gz = new Uint8Array(gzipSync(await makeTar([{ name: "f.txt", content: "x".repeat(200_000) }, { name: "g.txt", content: "hello\n" }])));
  });
  const cases: [string, () => Uint8Array, RegExp][] = [
    ["truncated", () => gz.subarray(0, gz.length >> 1), /gzip.*(cut short|unexpected end)/],
    ["cut just before its trailer", () => gz.subarray(0, gz.length - 4), /gzip.*(cut short|unexpected end)/],
    ["with a bad CRC", () => withByte(gz, gz.length - 8, gz[gz.length - 8]! ^ 0xff), /gzip.*(data check|CRC)/i],
    ["with a bad header", () => withByte(gz, 2, 7), /gzip.*compression method/],
    ["with corrupt deflate data", () => gz.map((b, i) => (i >= 20 && i < 60 ? 0xff : b)), /gzip/],
    ["with trailing garbage", () => new Uint8Array([...gz, ...new TextEncoder().encode("trailing garbage")]), /gzip/],
    // The tar parser gives up while zlib still has output on its way.
    ["holding no tar", () => new Uint8Array(gzipSync(new Uint8Array(8 << 20).fill(0x41))), /not a valid tar|tar/],
  ];
  for (const [what, bytes, reason] of cases) {
    for (const format of ["files", "rootfs"] as const) {
      test(`${what} (${format})`, async () => {
        const layer = { bytes: bytes(), gzip: true };
        const repo = `gzip/c${caseNo}`;
        const digests = await pushCraftedImage(client, repo, "v1", format === "files" ? { allotments: [layer] } : { base: [layer] });
        const c = await freshCase();
        await mkdir(c.out);
        await writeFile(join(c.out, "mine.txt"), "mine\n");
        const result = await pull(`${repo}:v1`, c.out, "--format", format);
        expectLayerError(result, (format === "files" ? digests.allotments : digests.base)[0]!, reason);
        await expectUntouched(c, ["mine.txt"]);
        expect(await readFile(join(c.out, "mine.txt"), "utf8")).toBe("mine\n");
      });
    }
  }

  test("a zstd layer with bytes after its frame does not hang the pull", async () => {
    // Bun's zstd decoder ends at the frame's end, before its write returns: the pull used to wait
    // for an end already past, find nothing left to run, and exit 0 having written nothing.
    const tar = await makeTar([{ name: "z.txt", content: "zstd\n" }]);
    const bytes = new Uint8Array([...zstdCompressSync(tar), ...new TextEncoder().encode("after the frame")]);
    await pushCraftedImage(client, "zstd/trailing", "v1", { allotments: [{ bytes, zstd: true }] });
    const c = await freshCase();
    const result = await pull("zstd/trailing:v1", c.out);
    expect(result.stderr).toBe("");
    expect(result.code).toBe(0);
    expect(await readFile(join(c.out, "z.txt"), "utf8")).toBe("zstd\n");
  });

  test("a zstd layer cut at a frame boundary, between two tar entries, decodes cleanly and is refused by its diff_id", async () => {
    // Two frames: the first holds only the first entry. Cut after it, the stream ends where a
    // frame ends and the tar where an entry ends: zstd and the tar parser both see nothing wrong.
    const first = await makeTar([{ name: "a.txt", content: "first\n" }]);
    const whole = await makeTar([{ name: "a.txt", content: "first\n" }, { name: "b.txt", content: "second\n" }]);
    const firstEntry = first.subarray(0, 1024); // header + one 512-byte block, no end-of-archive
    expect(whole.subarray(0, 1024)).toEqual(firstEntry);
    const cut = new Uint8Array(zstdCompressSync(firstEntry));
    for (const format of ["files", "rootfs"] as const) {
      const layer = { bytes: cut, zstd: true, diffId: sha256(whole) };
      const repo = `zstd/cut-${format}`;
      const digests = await pushCraftedImage(client, repo, "v1", format === "files" ? { allotments: [layer] } : { base: [layer] });
      const c = await freshCase();
      const result = await pull(`${repo}:v1`, c.out, "--format", format);
      expectLayerError(result, (format === "files" ? digests.allotments : digests.base)[0]!, /zstd data decompresses to 1024 bytes .* not the diff_id .* \(cut short or altered\)/);
      await expectUntouched(c);
    }
  });

  test("a layer whose config names another diff_id is refused, compressed or not; the true one pulls", async () => {
    const tar = await makeTar([{ name: "w.txt", content: "weights\n" }]);
    const gz = new Uint8Array(gzipSync(tar));
    const liar = sha256(new TextEncoder().encode("another tar"));
    const gzipLie = await pushCraftedImage(client, "diffid/gzip", "v1", { allotments: [{ bytes: gz, gzip: true, diffId: liar }] });
    let c = await freshCase();
    expectLayerError(await pull("diffid/gzip:v1", c.out), gzipLie.allotments[0]!, new RegExp(`gzip data decompresses to ${tar.length} bytes with digest ${sha256(tar)}, not the diff_id ${liar}`));
    await expectUntouched(c);
    const plainLie = await pushCraftedImage(client, "diffid/plain", "v1", { allotments: [{ bytes: tar, diffId: liar }] });
    c = await freshCase();
    expectLayerError(await pull("diffid/plain:v1", c.out), plainLie.allotments[0]!, new RegExp(`names diff_id ${liar} for this uncompressed layer, which is its own diff_id`));
    await expectUntouched(c);
    const other = await makeTar([{ name: "v.txt", content: "vocab\n" }]);
    await pushCraftedImage(client, "diffid/true", "v1", { allotments: [{ bytes: gz, gzip: true }, { bytes: other }] });
    c = await freshCase();
    const ok = await pull("diffid/true:v1", c.out);
    expect(ok.stderr).toBe("");
    expect(ok.code).toBe(0);
    expect(await readFile(join(c.out, "w.txt"), "utf8")).toBe("weights\n");
    expect(await readFile(join(c.out, "v.txt"), "utf8")).toBe("vocab\n");
  });

  test("an enormous expansion ratio is refused before it fills the disk", async () => {
    // A tar header for a 4 GiB file, then gzip members of 1 MiB of zeros each (~1 KiB apiece):
    // a 1 MiB blob that would expand 1000-fold.
    const header = (await makeTar([{ name: "bomb.bin", content: new Uint8Array(512) }])).subarray(0, 512);
    const big = Buffer.from(header);
    big.write("00040000000000\0".slice(0, 11), 124, "ascii"); // size field: 0o40000000000 = 4 GiB
    let sum = 0;
    big.fill(0x20, 148, 156);
    for (const b of big) sum += b;
    big.write(`${sum.toString(8).padStart(6, "0")}\0 `, 148, "ascii");
    const member = gzipSync(new Uint8Array(1 << 20));
    const parts = [gzipSync(big), ...Array.from({ length: 1024 }, () => member)];
    const layer = { bytes: new Uint8Array(Buffer.concat(parts)), gzip: true };
    const digests = await pushCraftedImage(client, "gzip/bomb", "v1", { allotments: [layer] });
    const c = await freshCase();
    const result = await pull("gzip/bomb:v1", c.out);
    expectLayerError(result, digests.allotments[0]!, /expand/);
    await expectUntouched(c);
  }, 120_000);
});

function withByte(bytes: Uint8Array, at: number, value: number): Uint8Array {
  const copy = bytes.slice();
  copy[at] = value;
  return copy;
}



describe("rootfs bases whose tar names the root itself", () => {
  for (const root of ["/", "./"]) {
    test(`an entry "${root}" is the root folder (its mode is ignored)`, async () => {
      const base = await makeTar([
        { name: root, type: "directory", mode: 0o700 },
        { name: `${root === "/" ? "" : "./"}etc/`, type: "directory" },
        { name: `${root === "/" ? "" : "./"}etc/os-release`, content: "ID=test\n" },
      ]);
      const repo = `rootentry/r${caseNo}`;
      await pushCraftedImage(client, repo, "v1", { base: [{ bytes: base }, { bytes: new Uint8Array(gzipSync(base)), gzip: true }] });
      const c = await freshCase();
      const result = await pull(`${repo}:v1`, c.out, "--format", "rootfs");
      expect(result.stderr).toBe("");
      expect(result.code).toBe(0);
      expect(await readFile(join(c.out, "etc/os-release"), "utf8")).toBe("ID=test\n");
    });
  }
});

describe("the output folder", () => {
  let repo: string;
  beforeAll(async () => {
    repo = "outdir/img";
    await pushCraftedImage(client, repo, "v1", { allotments: [{ bytes: await makeTar([{ name: "model/w.bin", content: "new\n" }]) }] });
  });

  test("staging folders of pulls that died are removed by the next pull into the same DIR; a live pull's are kept", async () => {
    const c = await freshCase();
    const dead = Bun.spawn(["true"]);
    await dead.exited;
    const stale = join(c.dir, `.out.2dfs-${dead.pid}-0123abcd`);
    const staleOld = join(c.dir, `.out.2dfs-${dead.pid}-4567cdef-old`);
    const live = join(c.dir, `.out.2dfs-${process.pid}-89abcdef`);
    for (const d of [stale, staleOld, live]) {
      await mkdir(join(d, "deep"), { recursive: true });
      await writeFile(join(d, "deep/part.bin"), "half-written");
    }
    const result = await pull(`${repo}:v1`, c.out);
    expect(result.code).toBe(0);
    expect((await readdir(c.dir)).sort()).toEqual([`.out.2dfs-${process.pid}-89abcdef`, "out", "sink"]);
    expect(await readFile(join(c.out, "model/w.bin"), "utf8")).toBe("new\n");
  });

  test("a pull into a non-empty DIR merges and says so; --clean replaces DIR's content", async () => {
    const c = await freshCase();
    await mkdir(join(c.out, "model"), { recursive: true });
    await writeFile(join(c.out, "old.txt"), "old\n");
    await writeFile(join(c.out, "model/old.bin"), "old\n");
    const merged = await pull(`${repo}:v1`, c.out);
    expect(merged.code).toBe(0);
    expect(merged.stderr).toBe(`note: ${c.out} was not empty: the pulled files were merged with what was there (--clean replaces its content)\n`);
    expect((await readdir(join(c.out, "model"))).sort()).toEqual(["old.bin", "w.bin"]);
    const clean = await pull(`${repo}:v1`, c.out, "--clean");
    expect(clean.stderr).toBe("");
    expect(clean.code).toBe(0);
    expect(await readdir(c.out)).toEqual(["model"]);
    expect(await readdir(join(c.out, "model"))).toEqual(["w.bin"]);
    expect((await readdir(c.dir)).sort()).toEqual(["out", "sink"]);
    // Into an empty or missing DIR there is nothing to say.
    const fresh = await freshCase();
    expect((await pull(`${repo}:v1`, fresh.out)).stderr).toBe("");
  });

  test("a failed --clean pull leaves DIR's content as it was", async () => {
    const evil = await pushCraftedImage(client, "outdir/evil", "v1", { allotments: [{ bytes: new Uint8Array(gzipSync(new Uint8Array(1 << 20))).subarray(0, 500), gzip: true }] });
    const c = await freshCase();
    await mkdir(c.out);
    await writeFile(join(c.out, "keep.txt"), "keep\n");
    const result = await pull("outdir/evil:v1", c.out, "--clean");
    expectLayerError(result, evil.allotments[0]!, /cut short/);
    await expectUntouched(c, ["keep.txt"]);
  });
});
