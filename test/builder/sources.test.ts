import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { symlinkSync } from "node:fs";
import { join } from "node:path";
import { resolveSources, type SourceFile } from "../../src/builder/sources.ts";
import type { AllotmentSpec } from "../../src/field/descriptor-file.ts";
import { makeTempDir, writeTree } from "../support/temp.ts";

// Layout: <dir>/outside/secret is outside the context <dir>/ctx; the descriptor sits in ctx.
let dir: string;
let ctx: string;
let cleanup: () => Promise<void>;

beforeAll(async () => {
  ({ dir, cleanup } = await makeTempDir());
  ctx = join(dir, "ctx");
  await writeTree(dir, {
    "outside/secret": "host secret\n",
    "ctx/a.txt": "a\n",
    "ctx/shared/config.json": "{}\n",
    "ctx/data/v2/model.bin": "weights\n",
    "ctx/leaky/ok.txt": "ok\n",
    "ctx/chain/inner/f.txt": "f\n",
    "ctx/globbed/real.txt": "real\n",
  });
  symlinkSync("v2/model.bin", join(ctx, "data/latest")); // stays inside data/: stored as a link
  symlinkSync("v2", join(ctx, "data/current")); // a link to a directory inside: stored as a link
  symlinkSync("v3/missing.bin", join(ctx, "data/next")); // dangling but inside: stored as a link
  symlinkSync("../shared/config.json", join(ctx, "data/config.json")); // leaves data/, inside ctx: copied
  symlinkSync("/etc/passwd", join(ctx, "leaky/pw")); // the case
  symlinkSync(join(dir, "outside/secret"), join(ctx, "named-link")); // a src that is itself a link out
  symlinkSync("a.txt", join(ctx, "named-inside")); // a src that is a link inside
  symlinkSync("../../../outside", join(ctx, "chain/inner/up")); // relative, leaves the context
  symlinkSync("../a.txt", join(ctx, "globbed/link.txt"));
  symlinkSync(join(dir, "outside"), join(dir, "ctx-outside-link"));
  symlinkSync(join(dir, "outside"), join(ctx, "outdir")); // a folder link inside the context that leads out
});
afterAll(() => cleanup());

const spec = (src: string | string[], dst: string | string[]): AllotmentSpec => ({
  entry: 0,
  row: 0,
  col: 0,
  src: [src].flat(),
  dst: [dst].flat(),
});
const resolveOne = async (src: string, dst: string, allowOutsideContext = false): Promise<SourceFile[]> =>
  (await resolveSources([spec(src, dst)], ctx, { fileName: "2dfs.json", allowOutsideContext }))[0]!.files;
const outsideError = (what: RegExp) =>
  new RegExp(`2dfs\\.json entry 0 \\(row 0, col 0\\): ${what.source}.*outside the build context .*ctx.*--allow-outside-context`);

describe("the build context (the descriptor's folder)", () => {
  test("a relative src that climbs out is refused, naming the entry, the path and the flag", async () => {
    await expect(resolveOne("../outside/secret", "/s")).rejects.toThrow(outsideError(/source "\.\.\/outside\/secret" resolves to \/.*\/outside\/secret/));
  });

  test("an absolute src outside is refused; one inside is fine", async () => {
    await expect(resolveOne("/etc/passwd", "/p")).rejects.toThrow(outsideError(/source "\/etc\/passwd" resolves to \/etc\/passwd/));
    expect((await resolveOne(join(ctx, "a.txt"), "/a")).map((f) => f.dst)).toEqual(["/a"]);
  });

  test("a glob whose folder is outside is refused before it is searched", async () => {
    await expect(resolveOne("../../*", "/x/")).rejects.toThrow(outsideError(/pattern "\.\.\/\.\.\/\*" searches \//));
    await expect(resolveOne("../*/secret", "/x/")).rejects.toThrow(outsideError(/pattern/));
  });

  test("a glob that climbs out below its first wildcard is refused at the file it matches, named once", async () => {
    const error = (await resolveOne("g*/../../outside/*", "/x/").catch((e: Error) => e)) as Error;
    expect(error.message).toMatch(outsideError(/pattern "g\*\/\.\.\/\.\.\/outside\/\*" matches \/[^,]*\/outside\/secret, /));
    expect(error.message.split("outside/secret")).toHaveLength(2);
  });

  test("a src that is a symlink is followed: inside the context it is read from its target, outside it is refused", async () => {
    const [inside] = await resolveOne("named-inside", "/d/");
    expect(inside).toMatchObject({ dst: "/d/named-inside", src: join(ctx, "a.txt"), size: 2 });
    expect(inside!.linkTarget).toBeUndefined();
    await expect(resolveOne("named-link", "/n")).rejects.toThrow(outsideError(/source "named-link" resolves to .*outside\/secret/));
  });

  test("a symlink to /etc/passwd inside a directory source is refused", async () => {
    await expect(resolveOne("leaky", "/l/")).rejects.toThrow(outsideError(/symlink .*leaky\/pw -> "\/etc\/passwd" resolves to \/etc\/passwd/));
  });

  test("a relative symlink that climbs out of the context is refused too", async () => {
    await expect(resolveOne("chain", "/c/")).rejects.toThrow(outsideError(/symlink .*chain\/inner\/up -> "\.\.\/\.\.\/\.\.\/outside"/));
  });

  test("a file reached through a symlinked folder that leads out is refused", async () => {
    await expect(resolveOne("outdir/secret", "/s")).rejects.toThrow(outsideError(/source "outdir\/secret" resolves to .*\/outside\/secret/));
    await expect(resolveOne("outdir/*", "/s/")).rejects.toThrow(outsideError(/pattern "outdir\/\*" searches .*\/outside/));
  });

  test("a directory given through a symlink outside the context is refused", async () => {
    await expect(resolveSources([spec("../ctx-outside-link", "/o/")], ctx)).rejects.toThrow(/outside the build context/);
  });

  test("--allow-outside-context reads them all, a link's file from its target", async () => {
    const [secret] = await resolveOne("../outside/secret", "/s", true);
    expect(secret!.src).toBe(join(dir, "outside/secret"));
    const leaky = await resolveOne("leaky", "/l/", true);
    expect(leaky.map((f) => [f.dst, f.src, f.linkTarget])).toEqual([
      ["/l/ok.txt", join(ctx, "leaky/ok.txt"), undefined],
      ["/l/pw", "/etc/passwd", undefined],
    ]);
  });
});

describe("symlinks inside a directory source", () => {
  test("a link whose target stays in the directory is stored as a link, target verbatim; one that leaves it is copied", async () => {
    const files = await resolveOne("data", "/app/data/");
    const byDst = Object.fromEntries(files.map((f) => [f.dst, f]));
    expect(Object.keys(byDst).sort()).toEqual([
      "/app/data/config.json",
      "/app/data/current",
      "/app/data/latest",
      "/app/data/next",
      "/app/data/v2/model.bin",
    ]);
    expect(byDst["/app/data/latest"]).toMatchObject({ linkTarget: "v2/model.bin", size: 0, src: join(ctx, "data/latest") });
    expect(byDst["/app/data/current"]!.linkTarget).toBe("v2");
    expect(byDst["/app/data/next"]!.linkTarget).toBe("v3/missing.bin");
    // ../shared/config.json would dangle in the image, so its file (inside the context) is copied.
    expect(byDst["/app/data/config.json"]).toMatchObject({ src: join(ctx, "shared/config.json"), size: 3 });
    expect(byDst["/app/data/config.json"]!.linkTarget).toBeUndefined();
  });

  test("a glob that climbs with \"..\" after a wildcard is refused when its matches land below a dst folder, not later as a bad layer path", async () => {
    await expect(resolveOne("g*/../a.txt", "/g/")).rejects.toThrow(
      /2dfs\.json entry 0 \(row 0, col 0\): pattern "g\*\/\.\.\/a\.txt" matches globbed\/\.\.\/a\.txt, which climbs with "\.\." after a wildcard/,
    );
    // With a file dst the match's own path does not matter.
    expect((await resolveOne("g*/../a.txt", "/a.txt")).map((f) => [f.dst, f.src])).toEqual([["/a.txt", join(ctx, "a.txt")]]);
  });

  test("a glob match that is a symlink is followed like a named source", async () => {
    const files = await resolveOne("globbed/*.txt", "/g/");
    expect(files.map((f) => [f.dst, f.src])).toEqual([
      ["/g/link.txt", join(ctx, "a.txt")],
      ["/g/real.txt", join(ctx, "globbed/real.txt")],
    ]);
  });

  test("a descriptor folder reached through a symlink is still its own context", async () => {
    const via = join(dir, "ctx-via-link");
    symlinkSync(ctx, via);
    const [file] = (await resolveSources([spec("a.txt", "/a")], via))[0]!.files;
    expect(file!.src).toBe(join(ctx, "a.txt"));
  });
});
