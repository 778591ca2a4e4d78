/** `2dfs build` end to end: the CLI (the compiled binary when TDFS_BIN is set) on a busybox base, read back by skopeo and umoci. */
import { afterAll, beforeAll, expect, test } from "bun:test";
import { readFile, stat, truncate, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { cliCommand, run2dfs } from "../support/cli.ts";
import { runMeasured } from "../support/peak-memory.ts";
import { seededBytes, writeTree } from "../support/temp.ts";
import { describeIfE2E, makeBusyboxBase, makeTempDir, removeTempDir, run, skopeo, umoci } from "./support/index.ts";

describeIfE2E("2dfs build (e2e)", ["skopeo", "umoci", "busybox", "strace"], () => {
  let dir: string;
  let base: string;
  let baseLayers: number;
  const store = () => join(dir, "store");

  beforeAll(async () => {
    dir = await makeTempDir("2dfs-e2e-build-");
    const busybox = await makeBusyboxBase(join(dir, "busybox"));
    base = `oci:${busybox.layoutDir}:${busybox.tag}`;
    baseLayers = 1 + Object.keys(busybox.layers.arch).length;
    await writeTree(dir, {
      "ctx/weights/w0.bin": seededBytes(300_000, 1),
      "ctx/weights/w1.bin": seededBytes(300_000, 2),
      "ctx/drivers/libx.so": seededBytes(20_000, 3),
      "ctx/2dfs.json": JSON.stringify({
        allotments: [
          { src: "weights/w0.bin", dst: "/model/w0.bin", row: 0, col: 0 },
          { src: "weights/w1.bin", dst: "/model/w1.bin", row: 0, col: 1 },
          { src: ["drivers/libx.so"], dst: ["/usr/lib/libx.so"], row: 1, col: 0 },
        ],
      }),
    });
  });
  afterAll(() => removeTempDir(dir));

  test("builds on a busybox base; skopeo and umoci read the image from the store", async () => {
    const out = await run2dfs(["build", "-t", "e2e/model:v1", "-f", join(dir, "ctx", "2dfs.json"), "--base", base, "--store", store()]);
    expect(out.stderr).toContain("built e2e/model:v1");
    expect(out.code).toBe(0);

    const inspected = await skopeo(["inspect", `oci:${store()}:e2e/model:v1`]);
    expect(inspected.code).toBe(0);
    const info = JSON.parse(inspected.stdout);
    expect(info.Architecture).toBe("amd64");
    expect(info.Layers).toHaveLength(baseLayers + 3);

    const raw = JSON.parse((await skopeo(["inspect", "--raw", `oci:${store()}:e2e/model:v1`])).stdout);
    const cells = raw.layers.slice(baseLayers).map((l: { annotations: Record<string, string> }) => `${l.annotations["io.2dfs.allotment.row"]}.${l.annotations["io.2dfs.allotment.col"]}`);
    expect(cells).toEqual(["0.0", "0.1", "1.0"]);

    const rootfs = join(dir, "unpacked");
    const unpack = await umoci(["unpack", "--rootless", "--image", `${store()}:e2e/model:v1`, rootfs]);
    expect(unpack.stderr + unpack.stdout).not.toMatch(/error/i);
    expect(unpack.code).toBe(0);
    expect(new Uint8Array(await readFile(join(rootfs, "rootfs", "model", "w1.bin")))).toEqual(seededBytes(300_000, 2));
    expect((await stat(join(rootfs, "rootfs", "bin", "busybox"))).isFile()).toBe(true);
    expect((await stat(join(rootfs, "rootfs", "usr", "lib", "libx.so"))).size).toBe(20_000);
  });

  test("skopeo copies every allotment out of the store", async () => {
    const copy = await skopeo(["copy", `oci:${store()}:e2e/model:v1`, `oci:${join(dir, "copy")}:v1`]);
    expect(copy.code).toBe(0);
    const raw = JSON.parse((await skopeo(["inspect", "--raw", `oci:${join(dir, "copy")}:v1`])).stdout);
    expect(raw.layers).toHaveLength(baseLayers + 3);
    expect(raw.annotations["io.2dfs.field.version"]).toBe("1");
  });

  test("50 allotments: changing one source rebuilds exactly one; a no-change rebuild opens no source", async () => {
    const ctx = join(dir, "fifty");
    const files: Record<string, Uint8Array | string> = {};
    for (let i = 0; i < 50; i++) files[`s${i}.bin`] = seededBytes(10_000, 100 + i);
    files["2dfs.json"] = JSON.stringify({ allotments: Array.from({ length: 50 }, (_, i) => ({ src: `s${i}.bin`, dst: `/m/s${i}.bin`, row: Math.floor(i / 10), col: i % 10 })) });
    await writeTree(ctx, files);
    const build = async () => {
      const out = await run2dfs(["build", "-t", "fifty:v1", "-f", join(ctx, "2dfs.json"), "--store", store(), "--json"]);
      expect(out.code).toBe(0);
      return out.stdout.trim().split("\n").map((l) => JSON.parse(l)).filter((e) => e.type === "allotment");
    };
    const first = await build();
    expect(first.filter((e) => e.status === "built")).toHaveLength(50);
    await writeFile(join(ctx, "s23.bin"), seededBytes(10_000, 999));
    const second = await build();
    expect(second.filter((e) => e.status === "built").map((e) => `${e.row}.${e.col}`)).toEqual(["2.3"]);
    const digests = (events: { row: number; col: number; digest: string }[]) => new Map(events.map((e) => [`${e.row}.${e.col}`, e.digest]));
    const [d1, d2] = [digests(first), digests(second)];
    for (const [cell, digest] of d1) expect({ cell, same: d2.get(cell) === digest }).toEqual({ cell, same: cell !== "2.3" });

    // The kernel's word, not the tool's: no source file is even opened.
    const trace = join(dir, "strace.txt");
    const traced = await run("strace", ["-f", "-qq", "-e", "trace=open,openat,openat2", "-o", trace, ...cliCommand(), "build", "-t", "fifty:v1", "-f", join(ctx, "2dfs.json"), "--store", store(), "--quiet"]);
    expect(traced.code).toBe(0);
    const opened = (await readFile(trace, "utf8")).split("\n").filter((l) => /\/s\d+\.bin"/.test(l));
    expect(opened).toEqual([]);
  });

  test("a two-platform base keeps both platforms; export --platform picks one", async () => {
    const multi = await makeBusyboxBase(join(dir, "multi"), { platforms: ["amd64", "arm64"] });
    const built = await run2dfs(["build", "-t", "multi:v1", "-f", join(dir, "ctx", "2dfs.json"), "--base", `oci:${multi.layoutDir}:${multi.tag}`, "--store", store(), "--quiet"]);
    expect(built.code).toBe(0);
    const index = JSON.parse((await skopeo(["inspect", "--raw", `oci:${store()}:multi:v1`])).stdout);
    expect(index.manifests.map((m: { platform: { architecture: string } }) => m.platform.architecture).sort()).toEqual(["amd64", "arm64"]);
    for (const arch of ["amd64", "arm64"]) {
      const tar = join(dir, `multi-${arch}.tar`);
      const out = await run2dfs(["export", "multi:v1--0.0.0.1", "--platform", `linux/${arch}`, "--format", "oci", "-o", tar, "--store", store()]);
      expect(out.code).toBe(0);
      const info = JSON.parse((await skopeo(["inspect", `oci-archive:${tar}`])).stdout);
      expect(info.Architecture).toBe(arch);
      expect(info.Layers).toHaveLength(2 + 2); // busybox + /etc/arch layers, then allotments (0,0) and (0,1)
    }
  });

  test("a 2 GiB source builds with peak memory under 300 MB", async () => {
    const big = join(dir, "big");
    await writeTree(big, { "2dfs.json": JSON.stringify({ allotments: [{ src: "huge.bin", dst: "/data/huge.bin", row: 0, col: 0 }] }) });
    await writeFile(join(big, "huge.bin"), "");
    await truncate(join(big, "huge.bin"), 2 * 1024 ** 3); // sparse: fast to make, still 2 GiB to read
    const { stderr, code, peakMb } = await runMeasured([...cliCommand(), "build", "-t", "big:v1", "-f", join(big, "2dfs.json"), "--store", store(), "--compression", "gzip", "--quiet"]);
    expect(stderr).toBe("");
    expect(code).toBe(0);
    // Workers are threads of the same process, so this peak covers them too.
    expect(peakMb).toBeGreaterThan(0);
    expect(peakMb).toBeLessThan(300);
    const inspect = JSON.parse((await run2dfs(["image", "inspect", "big:v1", "--store", store(), "--json"])).stdout);
    expect(inspect.platforms[0].field[0].files).toEqual([{ path: "/data/huge.bin", size: 2 * 1024 ** 3 }]);
  }, 300_000);
});
