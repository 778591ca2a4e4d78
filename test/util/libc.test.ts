/**
 * Choosing the C library (glibc or musl, by what is mapped into the process), and the portable
 * paths taken without one: a read/write copy and a fetch download give the same bytes as
 * copy_file_range and the own socket. The musl cases are checked on maps text, since a musl
 * process cannot start on this Debian machine (README "Install").
 */
import { describe, expect, test } from "bun:test";
import { join } from "node:path";
import { type LibcHost, libcCandidates, mappedLibc } from "../../src/util/libc.ts";

const line = (path: string) => `7f1c2a000000-7f1c2a028000 r--p 00000000 08:01 1234   ${path}`;
const GLIBC_X64 = [line("/usr/bin/bun"), line("/usr/lib/x86_64-linux-gnu/libm.so.6"), line("/usr/lib/x86_64-linux-gnu/libc.so.6"), line("/usr/lib/x86_64-linux-gnu/ld-linux-x86-64.so.2"), "7ffd1000-7ffd2000 rw-p 00000000 00:00 0  [stack]"].join("\n");
const ALPINE_X64 = [line("/usr/local/bin/2dfs"), line("/usr/lib/libstdc++.so.6.0.32"), line("/lib/ld-musl-x86_64.so.1")].join("\n");
const ALPINE_ARM64 = [line("/usr/local/bin/2dfs"), line("/lib/libc.musl-aarch64.so.1")].join("\n");
const DEBIAN_MUSL = [line("/opt/2dfs"), line("/usr/lib/x86_64-linux-musl/libc.so")].join("\n");
const QEMU_ARM64 = [line("/usr/aarch64-linux-gnu/lib/ld-linux-aarch64.so.1"), line("/usr/aarch64-linux-gnu/lib/libc.so.6")].join("\n");

const host = (over: Partial<LibcHost>): LibcHost => ({ platform: "linux", arch: "x64", maps: undefined, target: undefined, override: undefined, ...over });

describe("libc selection", () => {
  test("the library already mapped into the process is the one bound, glibc or musl", () => {
    expect(mappedLibc(GLIBC_X64)).toEqual({ family: "glibc", path: "/usr/lib/x86_64-linux-gnu/libc.so.6" });
    expect(mappedLibc(ALPINE_X64)).toEqual({ family: "musl", path: "/lib/ld-musl-x86_64.so.1" });
    expect(mappedLibc(ALPINE_ARM64)).toEqual({ family: "musl", path: "/lib/libc.musl-aarch64.so.1" });
    expect(mappedLibc(DEBIAN_MUSL)).toEqual({ family: "musl", path: "/usr/lib/x86_64-linux-musl/libc.so" });
    expect(mappedLibc(QEMU_ARM64)).toEqual({ family: "glibc", path: "/usr/aarch64-linux-gnu/lib/libc.so.6" });
    expect(mappedLibc(`${line("/usr/bin/static-thing")}\n${line("/home/u/libc.so")}`)).toBeUndefined();
  });

  test("a musl process never gets glibc to try, whatever the target says, nor the reverse", () => {
    expect(libcCandidates(host({ maps: ALPINE_X64, target: "linux-x64" })).candidates).toEqual([{ family: "musl", path: "/lib/ld-musl-x86_64.so.1" }]);
    expect(libcCandidates(host({ maps: GLIBC_X64, target: "linux-x64-musl" })).candidates).toEqual([{ family: "glibc", path: "/usr/lib/x86_64-linux-gnu/libc.so.6" }]);
  });

  test("without /proc, the compiled target decides: musl's names on a musl target, libc.so.6 otherwise", () => {
    expect(libcCandidates(host({ arch: "arm64", target: "linux-arm64-musl" })).candidates).toEqual([
      { family: "musl", path: "libc.musl-aarch64.so.1" },
      { family: "musl", path: "/lib/ld-musl-aarch64.so.1" },
      { family: "musl", path: "/usr/lib/aarch64-linux-musl/libc.so" },
    ]);
    expect(libcCandidates(host({ target: "linux-x64" })).candidates).toEqual([{ family: "glibc", path: "libc.so.6" }]);
    expect(libcCandidates(host({}))).toEqual({ candidates: [], reason: "/proc/self/maps unreadable and the build target unknown" });
  });

  test("no library on other systems or with TDFS_LIBC=none, with the reason", () => {
    expect(libcCandidates(host({ platform: "darwin", target: "darwin-arm64" }))).toEqual({ candidates: [], reason: "not Linux (darwin)" });
    expect(libcCandidates(host({ maps: GLIBC_X64, override: "none" }))).toEqual({ candidates: [], reason: "TDFS_LIBC=none" });
  });
});

// The fallbacks run in a child process: the choice is made once per process.
const PROBE = `
import { copyRange } from "${join(import.meta.dir, "../../src/util/copy-file-range.ts")}";
import { connectTcp } from "${join(import.meta.dir, "../../src/util/tcp-socket.ts")}";
import { libcChoice } from "${join(import.meta.dir, "../../src/util/libc.ts")}";
import { openSync, readFileSync, closeSync } from "node:fs";
const [src, dst, port] = process.argv.slice(2);
const from = openSync(src, "r"), to = openSync(dst, "w");
// A positioned copy from the middle (the file offset stays at 0), then the whole file from that offset.
const a = copyRange(from, to, 300_000, 1000);
const b = copyRange(from, to, 1 << 20);
closeSync(from); closeSync(to);
const socket = await connectTcp("127.0.0.1", Number(port), 5000);
socket?.close();
console.log(JSON.stringify({ choice: libcChoice(), copied: [a, b], socket: socket !== undefined }));
`;

describe("portable paths", () => {
  test("without libc: read/write copies the same bytes at the same offsets, no own socket, and --debug says so", async () => {
    const dir = `/tmp/2dfs-libc-test-${process.pid}`;
    const bytes = new Uint8Array(700_001).map((_, i) => (i * 7 + (i >> 9)) & 255);
    await Bun.write(join(dir, "src.bin"), bytes);
    await Bun.write(join(dir, "probe.ts"), PROBE);
    const server = Bun.serve({ port: 0, hostname: "127.0.0.1", fetch: () => new Response("ok") });
    try {
      const runProbe = async (env: Record<string, string>, out: string) => {
        const proc = Bun.spawn([process.execPath, join(dir, "probe.ts"), join(dir, "src.bin"), join(dir, out), String(server.port), "--debug"], {
          env: { ...process.env, ...env },
          stdout: "pipe",
          stderr: "pipe",
        });
        const [stdout, stderr] = await Promise.all([new Response(proc.stdout).text(), new Response(proc.stderr).text(), proc.exited]);
        return { result: JSON.parse(stdout), debug: stderr.split("\n").filter((l) => l.startsWith("debug: ")), copy: new Uint8Array(await Bun.file(join(dir, out)).arrayBuffer()) };
      };
      const kernel = await runProbe({}, "kernel.bin");
      const portable = await runProbe({ TDFS_LIBC: "none" }, "portable.bin");
      const expected = Buffer.concat([bytes.subarray(1000, 301_000), bytes]);
      expect(kernel.result).toMatchObject({ choice: { bound: true, family: "glibc" }, copied: [300_000, 700_001], socket: true });
      expect(portable.result).toEqual({ choice: { bound: false, reason: "TDFS_LIBC=none" }, copied: [300_000, 700_001], socket: false });
      expect(Buffer.compare(kernel.copy, expected)).toBe(0);
      expect(Buffer.compare(portable.copy, expected)).toBe(0);
      expect(kernel.debug).toEqual([expect.stringMatching(/^debug: libc: glibc \/.*libc\.so\.6$/), "debug: copy: copy_file_range", "debug: transport: own socket (libc)"]);
      expect(portable.debug).toEqual(["debug: libc: none (TDFS_LIBC=none): portable paths", "debug: copy: read/write (no libc)", "debug: transport: fetch (no libc)"]);
    } finally {
      server.stop(true);
      await Bun.$`rm -rf ${dir}`.quiet();
    }
  });
});
