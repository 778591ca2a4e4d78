import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { lstat, mkdir, mkdtemp, readFile, readdir, readlink, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { UnsafeEntryError } from "../../../src/client/errors.ts";
import { createExtraction, resolveInRoot } from "../../../src/client/output/safe-extract.ts";
import { type FakeEntry, makeTar } from "../support/layers.ts";

let work: string;
let root: string;
let outside: string;

beforeAll(async () => {
  work = await mkdtemp(join(tmpdir(), "2dfs-extract-"));
  outside = join(work, "outside");
  await mkdir(outside);
  await writeFile(join(outside, "victim.txt"), "untouched\n");
});
afterAll(() => rm(work, { recursive: true, force: true }));

async function fresh(): Promise<string> {
  root = await mkdtemp(join(work, "root-"));
  return root;
}

// Every case runs twice: through the streaming tar parser (compressed layers) and through the
// header index used for uncompressed layer files.
let mode: "stream" | "indexed file" = "stream";
async function extract(entries: FakeEntry[], dir: string, rootfs = false) {
  const extraction = createExtraction(dir, rootfs ? "rootfs" : "files");
  const tar = await makeTar(entries);
  let stats;
  if (mode === "stream") stats = await extraction.extractTarStream(new Blob([tar]).stream(), "test layer");
  else {
    const file = join(work, `layer-${Math.random().toString(36).slice(2)}.tar`);
    await writeFile(file, tar);
    stats = await extraction.extractLayerFile(file, "test layer");
  }
  extraction.finish();
  return stats;
}

async function outsideUnchanged(): Promise<void> {
  expect(await readdir(outside)).toEqual(["victim.txt"]);
  expect(await readFile(join(outside, "victim.txt"), "utf8")).toBe("untouched\n");
}

for (const m of ["stream", "indexed file"] as const) {
describe(`safe extraction (${m})`, () => {
  beforeAll(() => {
    mode = m;
  });
  test("extracts files, folders, relative symlinks and hard links", async () => {
    const dir = await fresh();
    const stats = await extract(
      [
        { name: "a/", type: "directory" },
        { name: "a/b.txt", content: "hello" },
        { name: "link", type: "symlink", linkname: "a/b.txt" },
        { name: "hard", type: "link", linkname: "a/b.txt" },
        { name: "run.sh", content: "#!/bin/sh\n", mode: 0o755 },
      ],
      dir,
    );
    expect(stats.files).toBe(3); // the link is made by finish(), after every layer
    expect(await readFile(join(dir, "link"), "utf8")).toBe("hello");
    expect(await readFile(join(dir, "hard"), "utf8")).toBe("hello");
    expect((await lstat(join(dir, "run.sh"))).mode & 0o777).toBe(0o755);
  });

  const refused: [string, FakeEntry[]][] = [
    ["a ../ path", [{ name: "../outside/victim.txt", content: "pwned" }]],
    ["a nested ../ path", [{ name: "a/../../outside/victim.txt", content: "pwned" }]],
    ["an absolute path", [{ name: "/tmp/2dfs-absolute-entry-test/victim.txt", content: "pwned" }]],
    ["a symlink escaping with ..", [{ name: "esc", type: "symlink", linkname: "../../outside" }]],
    ["a nested symlink escaping with ..", [{ name: "a/b/esc", type: "symlink", linkname: "../x/../../../outside" }]],
    ["an absolute symlink (files mode)", [{ name: "esc", type: "symlink", linkname: "/etc" }]],
    ["a hard link to a path outside", [{ name: "h", type: "link", linkname: "../outside/victim.txt" }]],
    ["a hard link to a host absolute path", [{ name: "h", type: "link", linkname: "/etc/passwd" }]],
    ["a FIFO", [{ name: "fifo", type: "fifo" }]],
    ["a character device", [{ name: "null", type: "character-device" }]],
  ];
  for (const [what, entries] of refused) {
    test(`refuses ${what}`, async () => {
      const dir = await fresh();
      await expect(extract(entries, dir)).rejects.toBeInstanceOf(UnsafeEntryError);
      await outsideUnchanged();
    });
  }

  test("never writes through a symlink that points outside (rootfs mode allows absolute links but resolves them inside)", async () => {
    const dir = await fresh();
    await extract(
      [
        { name: "esc", type: "symlink", linkname: outside },
        { name: "esc/victim.txt", content: "pwned" },
        { name: "esc2", type: "symlink", linkname: outside },
        { name: "esc2", content: "replaces the link, not its target" },
      ],
      dir,
      true,
    );
    await outsideUnchanged();
    // The write through `esc` landed inside the root, where the link resolves in a chroot.
    expect(await readFile(join(dir, outside, "victim.txt"), "utf8")).toBe("pwned");
    expect((await lstat(join(dir, "esc2"))).isFile()).toBe(true);
    expect(await readlink(join(dir, "esc"))).toBe(outside);
  });

  test("a hard link through a symlinked folder cannot reach outside", async () => {
    const dir = await fresh();
    await expect(
      extract(
        [
          { name: "up", type: "symlink", linkname: outside },
          { name: "h", type: "link", linkname: "up/victim.txt" },
        ],
        dir,
        true,
      ),
    ).rejects.toBeInstanceOf(UnsafeEntryError);
    await outsideUnchanged();
  });

  test("whiteouts remove what earlier layers wrote; an opaque folder is emptied", async () => {
    const dir = await fresh();
    await extract(
      [
        { name: "etc/", type: "directory" },
        { name: "etc/a", content: "a" },
        { name: "etc/b", content: "b" },
        { name: "opt/x/1", content: "1" },
        { name: "opt/x/2", content: "2" },
      ],
      dir,
      true,
    );
    await extract(
      [
        { name: "etc/.wh.a", content: "" },
        { name: "opt/x/.wh..wh..opq", content: "" },
        { name: "opt/x/3", content: "3" },
      ],
      dir,
      true,
    );
    expect((await readdir(join(dir, "etc"))).sort()).toEqual(["b"]);
    expect(await readdir(join(dir, "opt/x"))).toEqual(["3"]);
  });

  test("files format never writes through a link: an entry under a link's name is refused when the link is made", async () => {
    const dir = await fresh();
    await mkdir(join(dir, "d"));
    await expect(extract([{ name: "l", type: "symlink", linkname: "d" }, { name: "l/f", content: "x" }], dir)).rejects.toThrow(/symlink "l" -> "d" collides with a folder/);
    expect((await lstat(join(dir, "l"))).isDirectory()).toBe(true);
    expect(await readdir(join(dir, "d"))).toEqual([]);
  });

  test("files format: within one layer a later entry replaces an earlier one, link or file", async () => {
    const dir = await fresh();
    await extract(
      [
        { name: "a", content: "file first" },
        { name: "a", type: "symlink", linkname: "b" },
        { name: "c", type: "symlink", linkname: "b" },
        { name: "c", content: "file last" },
      ],
      dir,
    );
    expect(await readlink(join(dir, "a"))).toBe("b");
    expect(await readFile(join(dir, "c"), "utf8")).toBe("file last");
  });

  for (const name of ["/", "./", "."]) {
    test(`an entry "${name}" names the root: accepted, its mode ignored`, async () => {
      const dir = await fresh();
      const before = (await lstat(dir)).mode;
      await extract([{ name, type: "directory", mode: 0o500 }, { name: "f", content: "x" }], dir, true);
      expect((await lstat(dir)).mode).toBe(before);
      expect(await readFile(join(dir, "f"), "utf8")).toBe("x");
    });
  }

  test("a root entry that is not a folder is refused", async () => {
    await expect(extract([{ name: "./", content: "x" }], await fresh(), true)).rejects.toThrow(/names the root folder/);
  });

  test("resolveInRoot clamps .. and absolute symlink targets at the root", async () => {
    const dir = await fresh();
    await extract([{ name: "l", type: "symlink", linkname: "/" }, { name: "m", type: "symlink", linkname: "/" }], dir, true);
    expect(await resolveInRoot(dir, "l/../../etc", true)).toBe(join(dir, "etc"));
    expect(await resolveInRoot(dir, "m/x", true)).toBe(join(dir, "x"));
  });
});
}
