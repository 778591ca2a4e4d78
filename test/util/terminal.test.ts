import { afterAll, describe, expect, test } from "bun:test";
import { closeSync, openSync } from "node:fs";
import { join } from "node:path";
import { makeTempDir } from "../support/temp.ts";

// isTerminal and writeTo are run in child processes, whose standard descriptors each test
// chooses: a pipe, a file, /dev/null, or a pseudo-terminal made by `script`.

const MODULE = join(import.meta.dir, "../../src/util/terminal.ts");
const cleanups: (() => Promise<void>)[] = [];
afterAll(async () => {
  for (const c of cleanups) await c();
});

/** Runs `code` (which may use isTerminal and writeTo) with bun, its stdout as given; returns what it printed on stderr. */
async function child(code: string, stdout: "pipe" | number): Promise<{ err: string; out: string; exitCode: number }> {
  const script = `const { isTerminal, writeTo } = await import(${JSON.stringify(MODULE)});\n${code}`;
  const proc = Bun.spawn([process.execPath, "-e", script], { stdout, stderr: "pipe" });
  const [out, err] = await Promise.all([stdout === "pipe" ? new Response(proc.stdout as ReadableStream).text() : "", new Response(proc.stderr).text()]);
  return { out, err, exitCode: await proc.exited };
}

describe("isTerminal", () => {
  test("a pipe, a file and /dev/null are not terminals", async () => {
    const { dir, cleanup } = await makeTempDir();
    cleanups.push(cleanup);
    const file = openSync(join(dir, "out.txt"), "w");
    const devNull = openSync("/dev/null", "w");
    try {
      const ask = "writeTo(2, String(isTerminal(1)));";
      expect((await child(ask, "pipe")).err).toBe("false");
      expect((await child(ask, file)).err).toBe("false");
      expect((await child(ask, devNull)).err).toBe("false");
    } finally {
      closeSync(file);
      closeSync(devNull);
    }
  });

  test("a pseudo-terminal is one", async () => {
    const script = `const { isTerminal } = await import(${JSON.stringify(MODULE)}); require("node:fs").writeFileSync(process.argv[1], String(isTerminal(1)));`;
    const { dir, cleanup } = await makeTempDir();
    cleanups.push(cleanup);
    const answer = join(dir, "answer");
    const command = [process.execPath, "-e", script, answer].map((a) => `'${a.replaceAll("'", `'\\''`)}'`).join(" ");
    const proc = Bun.spawn(["script", "-qefc", command, "/dev/null"], { stdout: "pipe", stderr: "pipe", stdin: "pipe" });
    proc.stdin.end();
    expect(await proc.exited).toBe(0);
    expect(await Bun.file(answer).text()).toBe("true");
  });
});

describe("writeTo", () => {
  test("all of a large text arrives through a non-blocking pipe whose reader is slower than the writer", async () => {
    const size = 4 << 20; // more than a pipe holds: the writer must wait for the reader
    // The child makes its stdout non-blocking (as a parent sharing the pipe may have), so writes
    // come back short or with EAGAIN, which writeTo must wait out.
    const nonBlocking = `const ffi = require("bun:ffi"); const { fcntl } = ffi.dlopen("libc.so.6", { fcntl: { args: ["i32", "i32", "i32"], returns: "i32" } }).symbols; fcntl(1, 4, fcntl(1, 3, 0) | 0o4000);`;
    const proc = Bun.spawn([process.execPath, "-e", `${nonBlocking} const { writeTo } = await import(${JSON.stringify(MODULE)}); writeTo(1, "x".repeat(${size})); writeTo(1, "end");`], {
      stdout: "pipe",
      stderr: "pipe",
    });
    let received = 0;
    let tail = "";
    for await (const chunk of proc.stdout) {
      received += chunk.byteLength;
      tail = (tail + new TextDecoder().decode(chunk)).slice(-3);
      await Bun.sleep(1);
    }
    expect(await proc.exited).toBe(0);
    expect(await new Response(proc.stderr).text()).toBe("");
    expect(received).toBe(size + 3);
    expect(tail).toBe("end");
  });

  test("text with multi-byte characters is written whole", async () => {
    const text = "größe ✓ 模型\n".repeat(1000);
    const result = await child(`writeTo(1, ${JSON.stringify(text)});`, "pipe");
    expect(result.exitCode).toBe(0);
    expect(result.out).toBe(text);
  });
});
