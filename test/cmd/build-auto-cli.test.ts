import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { join } from "node:path";
import { run2dfs } from "../support/cli.ts";
import { makeTempDir, seededBytes, writeTree } from "../support/temp.ts";

let dir: string;
let cleanup: () => Promise<void>;
const store = () => join(dir, "store");

beforeAll(async () => {
  ({ dir, cleanup } = await makeTempDir());
  await writeTree(dir, {
    "noise.bin": seededBytes(200_000, 1),
    "text.txt": "a line of a config file\n".repeat(10_000),
    "2dfs.json": JSON.stringify({ allotments: [{ src: "noise.bin", dst: "/w/noise.bin", row: 0, col: 0 }, { src: "text.txt", dst: "/w/text.txt", row: 0, col: 1 }] }),
  });
});
afterAll(() => cleanup());

type Allotment = { type: string; col: number; status: string; compression: string; size: number; tarSize: number; auto: { sampleRatio: number; minSaving: number; compress: boolean } };

async function build(extra: string[]): Promise<{ code: number; stdout: string; stderr: string; allotments: Allotment[] }> {
  const out = await run2dfs(["build", "-t", "auto:v1", "-f", join(dir, "2dfs.json"), "--store", store(), ...extra]);
  const events = out.code === 0 && extra.includes("--json") ? out.stdout.split("\n").filter(Boolean).map((l) => JSON.parse(l)) : [];
  return { ...out, allotments: (events as Allotment[]).filter((e) => e.type === "allotment").sort((a, b) => a.col - b.col) };
}

describe("2dfs build --compression auto", () => {
  test("--json events carry the decision and the sample's ratio; image inspect shows both", async () => {
    const { code, allotments } = await build(["--json"]);
    expect(code).toBe(0);
    expect(allotments.map((a) => [a.compression, a.auto.compress, a.auto.minSaving])).toEqual([["none", false, 0.55], ["gzip", true, 0.55]]);
    expect(allotments[1]!.auto.sampleRatio).toBeLessThan(0.1);

    const text = await run2dfs(["image", "inspect", "auto:v1", "--store", store()]);
    expect(text.code).toBe(0);
    expect(text.stdout).toMatch(/0\.0\s+none\s+10\d\.\d%\s+auto: sample 10\d\.\d% by zstd-1, compressed when <= 45\.0%/);
    expect(text.stdout).toMatch(/0\.1\s+gzip\s+\d\.\d%\s+auto: sample \d\.\d% by zstd-1, compressed when <= 45\.0%, at level 6/);

    const json = JSON.parse((await run2dfs(["image", "inspect", "auto:v1", "--store", store(), "--json"])).stdout);
    const [noise, txt] = json.platforms[0].field.sort((a: { col: number }, b: { col: number }) => a.col - b.col);
    expect(noise).toMatchObject({ compression: "none", auto: { compress: false } });
    expect(txt).toMatchObject({ compression: "gzip", auto: { compress: true, sampleRatio: allotments[1]!.auto.sampleRatio } });
    expect(txt.storedRatio).toBeCloseTo(allotments[1]!.size / 240_000, 3);
  });

  test("--min-saving 100 stores everything uncompressed and is not served the layer built under the default", async () => {
    const { code, allotments } = await build(["--json", "--min-saving", "100"]);
    expect(code).toBe(0);
    expect(allotments.map((a) => [a.col, a.status, a.compression, a.auto.minSaving])).toEqual([[0, "built", "none", 1], [1, "built", "none", 1]]);
  });

  test("--min-saving is checked: a percentage, and only with auto", async () => {
    const bad = await build(["--min-saving", "120"]);
    expect(bad.code).not.toBe(0);
    expect(bad.stderr).toContain('--min-saving must be a percentage from 0 to 100, got "120"');
    const words = await build(["--min-saving", "lots"]);
    expect(words.stderr).toContain('--min-saving must be a percentage from 0 to 100, got "lots"');
    const gzip = await build(["--min-saving", "30", "--compression", "gzip"]);
    expect(gzip.code).not.toBe(0);
    expect(gzip.stderr).toContain("--min-saving applies to --compression auto only, not gzip");
  });
});
