/**
 * `bun run release` end to end: the release binaries are built (three of the five targets: the
 * ones this machine can run), SHA256SUMS checks out, `--version` names commit and target, and
 * the arm64 glibc binary under qemu-user-static runs build -> serve -> push -> partition pull with
 * the same digests and bytes as the x64 binary, as does the x64 binary forced onto the portable
 * paths (TDFS_LIBC=none: fetch transport, read/write copies). `--debug` names each path taken.
 */
import { afterAll, beforeAll, expect, test } from "bun:test";
import { existsSync, readFileSync } from "node:fs";
import { readdir } from "node:fs/promises";
import { join, relative } from "node:path";
import { describeIfE2E, freePort, hasTool, makeTempDir, removeTempDir, run, runOk, toolPath } from "../e2e/support/index.ts";
import { spawnDaemon, stopDaemon, waitForDaemon } from "../e2e/support/daemon.ts";

const ROOT = join(import.meta.dir, "..", "..");
const TARGETS = ["linux-x64", "linux-arm64", "linux-x64-musl"];
// Debian's libc6-arm64-cross: the arm64 glibc the emulated binary loads (qemu -L prefix).
const ARM64_SYSROOT = "/usr/aarch64-linux-gnu";
const MUSL_LOADER = "/lib/ld-musl-x86_64.so.1";

/** How to start one binary: the command prefix and the environment of every process it runs. */
interface Runner {
  name: string;
  cmd: string[];
  env?: Record<string, string>;
}

/** What one loop produced: digests, the pulled files, and the --debug lines of build and pull. */
interface LoopResult {
  image: string;
  partition: string;
  files: Record<string, string>;
  buildDebug: string[];
  pullDebug: string[];
}

const debugLines = (stderr: string) => stderr.split("\n").filter((l) => l.startsWith("debug: "));

async function filesUnder(dir: string): Promise<Record<string, string>> {
  const out: Record<string, string> = {};
  for (const entry of await readdir(dir, { recursive: true, withFileTypes: true })) {
    if (entry.isFile()) out[relative(dir, join(entry.parentPath, entry.name))] = readFileSync(join(entry.parentPath, entry.name), "utf8");
  }
  return out;
}

describeIfE2E(
  "release binaries (e2e)",
  [],
  () => {
    let dir: string;
    let out: string;

    beforeAll(async () => {
      const missing = [
        hasTool("qemu-aarch64-static") ? "" : "qemu-user-static",
        existsSync(join(ARM64_SYSROOT, "lib", "ld-linux-aarch64.so.1")) ? "" : "libc6-arm64-cross",
        existsSync(MUSL_LOADER) ? "" : "musl",
      ].filter(Boolean);
      if (missing.length > 0) throw new Error(`the release suite needs the Debian packages ${missing.join(", ")}: run .ci/install-deps.sh as root`);
      dir = await makeTempDir("2dfs-release-");
      out = join(dir, "release");
      await runOk(process.execPath, [join(ROOT, "scripts", "release.ts"), "--out", out, "--targets", TARGETS.join(",")], { cwd: ROOT, timeoutMs: 300_000 });
      await Bun.write(join(dir, "ctx", "a.txt"), "allotment 0.0\n");
      await Bun.write(join(dir, "ctx", "b.txt"), "allotment 0.1\n");
      await Bun.write(
        join(dir, "ctx", "2dfs.json"),
        JSON.stringify({ allotments: [{ src: "a.txt", dst: "/f/a.txt", row: 0, col: 0 }, { src: "b.txt", dst: "/f/b.txt", row: 0, col: 1 }] }),
      );
    }, 300_000);
    afterAll(async () => {
      if (dir) await removeTempDir(dir);
    });

    const x64 = (): Runner => ({ name: "x64", cmd: [join(out, "2dfs-linux-x64")] });
    const arm64 = (): Runner => ({ name: "arm64", cmd: [toolPath("qemu-aarch64-static")!, "-L", ARM64_SYSROOT, join(out, "2dfs-linux-arm64")] });
    const portable = (): Runner => ({ ...x64(), name: "x64-no-libc", env: { TDFS_LIBC: "none" } });

    /** build -> serve -> push -> pull of partition (0,1)-(0,1), all with one runner's binary. */
    async function loop(runner: Runner): Promise<LoopResult> {
      const work = join(dir, runner.name);
      const cli = (args: string[]) => {
        const [cmd, ...pre] = runner.cmd;
        return runOk(cmd!, [...pre, ...args], { env: runner.env, timeoutMs: 120_000 });
      };
      // The platform is named so that every runner builds the same image whatever its own architecture.
      const built = await cli(["build", "-t", "rel/field:v1", "-f", join(dir, "ctx", "2dfs.json"), "--platform", "linux/arm64", "--store", join(work, "s1"), "--json", "--debug"]);
      const image = built.stdout.split("\n").filter(Boolean).map((l) => JSON.parse(l)).find((e) => e.type === "image")?.digest;
      const port = await freePort();
      const [cmd, ...pre] = runner.cmd;
      const log = join(dir, `${runner.name}-serve.log`);
      const server = spawnDaemon(`2dfs serve (${runner.name})`, cmd!, [...pre, "serve", "--addr", `127.0.0.1:${port}`, "--data", join(work, "data"), "--debug"], log, runner.env);
      try {
        await waitForDaemon(server, async () => (await fetch(`http://127.0.0.1:${port}/v2/`)).status === 200, 60_000);
        await cli(["push", "rel/field:v1", `127.0.0.1:${port}/rel/field:v1`, "--store", join(work, "s1"), "--quiet"]);
        const pulled = await cli([
          "pull", `127.0.0.1:${port}/rel/field:v1--0.1.0.1`, "-o", join(work, "pulled"), "--platform", "linux/arm64", "--store", join(work, "s2"), "--json", "--debug",
        ]);
        const partition = pulled.stdout.split("\n").filter(Boolean).map((l) => JSON.parse(l)).find((e) => e.event === "pulled")?.digest;
        return {
          image,
          partition,
          files: await filesUnder(join(work, "pulled")),
          buildDebug: debugLines(built.stderr),
          pullDebug: debugLines(pulled.stderr),
        };
      } finally {
        await stopDaemon(server, 5_000);
      }
    }

    test("SHA256SUMS covers every binary written and verifies with sha256sum -c", async () => {
      const sums = readFileSync(join(out, "SHA256SUMS"), "utf8");
      expect(sums.trimEnd().split("\n").map((l) => l.split("  ")[1])).toEqual(TARGETS.map((t) => `2dfs-${t}`).sort());
      const check = await run("sha256sum", ["-c", "SHA256SUMS"], { cwd: out });
      expect({ code: check.code, lines: check.stdout.trimEnd().split("\n").sort() }).toEqual({ code: 0, lines: TARGETS.map((t) => `2dfs-${t}: OK`).sort() });
      const file = await run("file", ["-b", join(out, "2dfs-linux-arm64")]).catch(() => undefined);
      if (file?.code === 0) expect(file.stdout).toContain("ARM aarch64");
    });

    test("--version prints version, commit and target (arm64 under qemu)", async () => {
      const version = JSON.parse(readFileSync(join(ROOT, "package.json"), "utf8")).version;
      for (const [runner, target] of [[x64(), "linux-x64"], [arm64(), "linux-arm64"]] as const) {
        const [cmd, ...pre] = runner.cmd;
        const printed = await runOk(cmd!, [...pre, "--version"]);
        expect(printed.stdout).toMatch(new RegExp(`^2dfs/${version.replaceAll(".", "\\.")} \\(commit [0-9a-f]{12}(-dirty)?, target ${target}\\)`));
      }
    });

    test("the arm64 binary (qemu) and the x64 binary with and without libc: same digests, same bytes, and --debug names the paths", async () => {
      const native = await loop(x64());
      const emulated = await loop(arm64());
      const noLibc = await loop(portable());
      expect(native.image).toMatch(/^sha256:[0-9a-f]{64}$/);
      expect(native.partition).toMatch(/^sha256:[0-9a-f]{64}$/);
      expect(native.files).toEqual({ "f/b.txt": "allotment 0.1\n" });
      for (const other of [emulated, noLibc]) expect({ image: other.image, partition: other.partition, files: other.files }).toEqual({ image: native.image, partition: native.partition, files: native.files });

      expect(native.pullDebug).toEqual(expect.arrayContaining([expect.stringMatching(/^debug: libc: glibc \/.*\/libc\.so\.6$/), "debug: transport: own socket (libc)", "debug: copy: copy_file_range"]));
      expect(emulated.pullDebug).toEqual(expect.arrayContaining([`debug: libc: glibc ${ARM64_SYSROOT}/lib/libc.so.6`, "debug: transport: own socket (libc)", "debug: copy: copy_file_range"]));
      expect(noLibc.pullDebug).toEqual(expect.arrayContaining(["debug: libc: none (TDFS_LIBC=none): portable paths", "debug: transport: fetch (no libc)", "debug: copy: read/write (no libc)"]));
      expect(emulated.buildDebug).toContain(`debug: libc: glibc ${ARM64_SYSROOT}/lib/libc.so.6`);
      expect(noLibc.buildDebug).toContain("debug: libc: none (TDFS_LIBC=none): portable paths");
      // One line per path, however many blobs and files took it.
      for (const r of [native, emulated, noLibc]) expect(new Set(r.pullDebug).size).toBe(r.pullDebug.length);
    }, 300_000);

    test("the x64 musl binary: runs the loop if Debian's musl loader can start it, else fails for the documented reason", async () => {
      const binary = join(out, "2dfs-linux-x64-musl");
      const readelf = await run("readelf", ["-l", binary]).catch(() => undefined); // binutils, when installed
      if (readelf?.code === 0) expect(readelf.stdout).toContain(`[Requesting program interpreter: ${MUSL_LOADER}]`);
      const started = await run(binary, ["--version"]);
      if (started.code === 0) {
        const musl = await loop({ name: "x64-musl", cmd: [binary] });
        const native = await loop({ ...x64(), name: "x64-again" });
        expect({ image: musl.image, partition: musl.partition, files: musl.files }).toEqual({ image: native.image, partition: native.partition, files: native.files });
        expect(musl.pullDebug).toContain("debug: transport: own socket (libc)");
      } else {
        // Debian has no musl build of libstdc++, which Bun's musl runtime links (README "Install").
        expect(started.stderr).toContain("libstdc++.so.6");
      }
    }, 300_000);
  },
  { root: false },
);
