import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { readdir, readFile, symlink, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { cliCommand, run2dfs } from "../support/cli.ts";
import { makeTempDir, seededBytes, writeTree } from "../support/temp.ts";

let dir: string;
let cleanup: () => Promise<void>;
const store = () => join(dir, "store");

beforeAll(async () => {
  ({ dir, cleanup } = await makeTempDir());
  await writeTree(dir, {
    "a.bin": seededBytes(2048, 1),
    "b.txt": "hello\n",
    "lib/x.so": seededBytes(512, 2),
    "lib/sub/y.so": seededBytes(512, 3),
    "good.json": JSON.stringify({ allotments: [{ src: "a.bin", dst: "/a.bin", row: 0, col: 0 }] }),
  });
  const ok = await run2dfs(["build", "-t", "good:v1", "-f", join(dir, "good.json"), "--store", store(), "--quiet"]);
  expect(ok.code).toBe(0);
});
afterAll(() => cleanup());

const entry = (over: Record<string, unknown>) => ({ src: "a.bin", dst: "/a.bin", row: 0, col: 0, ...over });

// Each bad descriptor must fail with exit 1, a message naming the problem, and no new image.
const cases: [string, string, RegExp][] = [
  ["invalid JSON", '{"allotments":[{"src":"a.bin","dst":"/a","row":0,"col":0},]}', /invalid JSON.*line 1, column \d+/],
  ["missing file", JSON.stringify({ allotments: [entry({ src: "nope.bin" })] }), /entry 0 \(row 0, col 0\): source "nope.bin" not found/],
  ["negative index", JSON.stringify({ allotments: [entry({ row: -1 })] }), /entry 0.*"row" must not be negative/],
  ["non-integer index", JSON.stringify({ allotments: [entry({ col: 1.5 })] }), /entry 0.*"col" must be an integer/],
  ["string index", JSON.stringify({ allotments: [entry({ col: "1" })] }), /entry 0.*"col"/],
  ["duplicate cell", JSON.stringify({ allotments: [entry({}), entry({ src: "b.txt", dst: "/b" })] }), /entry 1 .*cell \(0, 0\).*entry 0/],
  ["src/dst length mismatch", JSON.stringify({ allotments: [entry({ src: ["a.bin", "b.txt"], dst: ["/a"] })] }), /src has 2 paths but dst has 1/],
  ["relative dst", JSON.stringify({ allotments: [entry({ dst: "a.bin" })] }), /must be an absolute path/],
  ["dst escaping /", JSON.stringify({ allotments: [entry({ dst: "/x/../../etc/passwd" })] }), /must not contain "\.\." components/],
  ["two allotments writing one path", JSON.stringify({ allotments: [entry({}), entry({ src: "b.txt", col: 1 })] }), /\/a\.bin.*(twice|both)/],
  ["directory source clashing with a file", JSON.stringify({ allotments: [entry({ src: "lib", dst: "/opt/" }), entry({ src: "b.txt", dst: "/opt/x.so", col: 1 })] }), /\/opt\/x\.so/],
  ["glob matching nothing", JSON.stringify({ allotments: [entry({ src: "*.none", dst: "/d/" })] }), /matches no file/],
  ["allotments not a list", JSON.stringify({ allotments: {} }), /allotments/],
];

describe("2dfs build rejects bad descriptors", () => {
  for (const [name, json, message] of cases) {
    test(name, async () => {
      const path = join(dir, `${name.replace(/\W+/g, "-")}.json`);
      await writeFile(path, json);
      const indexBefore = await readFile(join(store(), "index.json"), "utf8");
      const out = await run2dfs(["build", "-t", "bad:v1", "-f", path, "--store", store()]);
      expect(out.stderr).toMatch(message);
      expect(out.code).toBe(1);
      expect(await readFile(join(store(), "index.json"), "utf8")).toBe(indexBefore);
    });
  }

  test("an oversized descriptor is refused before it is read", async () => {
    const path = join(dir, "huge.json");
    await writeFile(path, "");
    const { truncate } = await import("node:fs/promises");
    await truncate(path, 64 * 1024 * 1024 + 1);
    const out = await run2dfs(["build", "-t", "bad:v1", "-f", path, "--store", store()]);
    expect(out.code).toBe(1);
    expect(out.stderr).toMatch(/over the 67108864 byte limit/);
  });

  test("an unknown key is a warning, not an error", async () => {
    const path = join(dir, "unknown-key.json");
    await writeFile(path, JSON.stringify({ allotments: [entry({ comment: "x" })] }));
    const out = await run2dfs(["build", "-t", "warn:v1", "-f", path, "--store", store()]);
    expect(out.code).toBe(0);
    expect(out.stderr).toMatch(/warning: .*entry 0: unknown key "comment"/);
  });

  test("a directory and a glob add their files below dst", async () => {
    const path = join(dir, "tree.json");
    await writeFile(path, JSON.stringify({ allotments: [entry({ src: "lib", dst: "/opt/lib/" }), entry({ src: "*.txt", dst: "/docs/", col: 1 })] }));
    const out = await run2dfs(["build", "-t", "tree:v1", "-f", path, "--store", store(), "--quiet"]);
    expect(out.code).toBe(0);
    const inspect = await run2dfs(["image", "inspect", "tree:v1", "--store", store(), "--json"]);
    const doc = JSON.parse(inspect.stdout);
    const files = doc.platforms[0].field.flatMap((c: { files: { path: string }[] }) => c.files.map((f) => f.path)).sort();
    expect(files).toEqual(["/docs/b.txt", "/opt/lib/sub/y.so", "/opt/lib/x.so"]);
  });

  test("usage errors exit 2 with a hint", async () => {
    const missingTag = await run2dfs(["build", "--store", store()]);
    expect(missingTag.code).toBe(2);
    expect(missingTag.stderr).toMatch(/missing -t/);
    const badMode = await run2dfs(["build", "-t", "x:1", "--compression", "lz4", "--store", store()]);
    expect(badMode.code).toBe(2);
    expect(badMode.stderr).toMatch(/--compression must be one of/);
    const unknown = await run2dfs(["frobnicate"]);
    expect(unknown.code).toBe(2);
  });

  test("--json prints one event per allotment", async () => {
    const out = await run2dfs(["build", "-t", "good:v1", "-f", join(dir, "good.json"), "--store", store(), "--json"]);
    const events = out.stdout.trim().split("\n").map((l) => JSON.parse(l));
    const allotments = events.filter((e) => e.type === "allotment");
    expect(allotments).toHaveLength(1);
    expect(allotments[0]).toMatchObject({ row: 0, col: 0, status: "cached", bytesRead: 0 });
    expect(allotments[0].digest).toMatch(/^sha256:[0-9a-f]{64}$/);
  });
});

describe("2dfs build output", () => {
  const args = () => ["build", "-t", "good:v1", "-f", join(dir, "good.json"), "--store", store()];

  test("to a pipe: a plain line per allotment and the result; --quiet: nothing", async () => {
    const plain = await run2dfs(args());
    expect(plain.code).toBe(0);
    expect(plain.stderr).toMatch(/^cached 0\.0 {2}sha256:/m);
    expect(plain.stderr).toMatch(/^built good:v1 sha256:[0-9a-f]{64} — 0 allotments built, 1 cached/m);
    expect(plain.stderr).not.toContain("\r");
    const quiet = await run2dfs([...args(), "--quiet"]);
    expect(quiet.code).toBe(0);
    expect(quiet.stderr).toBe("");
  });

  test("on a terminal: progress is redrawn in place, with no per-allotment lines", async () => {
    const command = [...cliCommand(), ...args()].map((a) => `'${a}'`).join(" ");
    const proc = Bun.spawn(["script", "-qefc", command, "/dev/null"], { stdin: "pipe", stdout: "pipe", stderr: "pipe" });
    proc.stdin.end();
    const [output, code] = await Promise.all([new Response(proc.stdout).text(), proc.exited]);
    expect(code).toBe(0);
    expect(output).toContain("\r\x1b[2Kallotments 1/1");
    expect(output).not.toMatch(/cached 0\.0 {2}sha256:/);
    expect(output).toMatch(/built good:v1 sha256:[0-9a-f]{64}/);
  });
});

describe("2dfs build reads nothing outside the descriptor's folder", () => {
  // The descriptors sit in ctx/; a.bin and b.txt are one level up, outside it.
  const ctxCases: [string, unknown, RegExp][] = [
    ["a relative path that climbs out", "../a.bin", /source "\.\.\/a\.bin" resolves to \/.*\/a\.bin, outside the build context/],
    ["an absolute path outside", "/etc/passwd", /source "\/etc\/passwd" resolves to \/etc\/passwd, outside the build context/],
    ["a glob that searches outside", "../../*", /pattern "\.\.\/\.\.\/\*" searches \/.*, outside the build context/],
    ["a symlink to /etc/passwd in a source folder", "leaky", /symlink .*leaky\/pw -> "\/etc\/passwd" resolves to \/etc\/passwd, outside the build context/],
  ];
  beforeAll(async () => {
    await writeTree(dir, { "ctx/leaky/ok.txt": "ok\n", "ctx/inside.txt": "in\n" });
    await symlink("/etc/passwd", join(dir, "ctx/leaky/pw"));
  });

  for (const [name, src, message] of ctxCases) {
    test(`${name}: exit 1, the entry and --allow-outside-context named, no image`, async () => {
      const path = join(dir, "ctx", `${name.replace(/\W+/g, "-")}.json`);
      await writeFile(path, JSON.stringify({ allotments: [{ src, dst: "/x/", row: 0, col: 0 }] }));
      const indexBefore = await readFile(join(store(), "index.json"), "utf8");
      const out = await run2dfs(["build", "-t", "outside:v1", "-f", path, "--store", store()]);
      expect(out.code).toBe(1);
      expect(out.stderr).toMatch(/^error: .*entry 0 \(row 0, col 0\): /);
      expect(out.stderr).toMatch(message);
      expect(out.stderr).toContain("pass --allow-outside-context");
      expect(await readFile(join(store(), "index.json"), "utf8")).toBe(indexBefore);
    });
  }

  test("--allow-outside-context opts out", async () => {
    const path = join(dir, "ctx", "opt-out.json");
    await writeFile(path, JSON.stringify({ allotments: [{ src: "../b.txt", dst: "/b.txt", row: 0, col: 0 }] }));
    const out = await run2dfs(["build", "-t", "outside:v1", "-f", path, "--store", store(), "--quiet", "--allow-outside-context"]);
    expect(out.stderr).toBe("");
    expect(out.code).toBe(0);
  });
});

describe("2dfs build refuses a field its manifest cannot describe", () => {
  test("20,000 allotments (a manifest over 4 MiB): exit 1 with the limit, how many fit and the remedy; nothing written", async () => {
    const allotments = Array.from({ length: 20_000 }, (_, i) => ({ src: "e", dst: `/f/${i}`, row: Math.floor(i / 1000), col: i % 1000 }));
    await writeTree(dir, { "many/e": "", "many/2dfs.json": JSON.stringify({ allotments }) });
    const indexBefore = await readFile(join(store(), "index.json"), "utf8");
    const blobsBefore = await readdir(join(store(), "blobs", "sha256"));
    const started = performance.now();
    const out = await run2dfs(["build", "-t", "many:v1", "-f", join(dir, "many", "2dfs.json"), "--store", store()]);
    expect(out.code).toBe(1);
    expect(out.stderr).toMatch(
      /^error: the image's manifest would be at least \d+ bytes for 20000 allotments \(about \d+ bytes each\), over the 4 MiB \(4194304 byte\) limit that 2dfs and registries apply to a manifest; about 18\d{3} allotments fit: split the field into several images or group files into fewer allotments$/m,
    );
    expect(performance.now() - started).toBeLessThan(10_000);
    expect(await readFile(join(store(), "index.json"), "utf8")).toBe(indexBefore);
    expect(await readdir(join(store(), "blobs", "sha256"))).toEqual(blobsBefore);
    const ls = await run2dfs(["image", "ls", "--store", store()]);
    expect(ls.code).toBe(0);
  });
});

