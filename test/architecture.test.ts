/** The import rules of architecture.md, checked on the import lines of src/ and wasm/. */
import { describe, expect, test } from "bun:test";
import { readdir, readFile } from "node:fs/promises";
import { dirname, join, relative, resolve } from "node:path";

const ROOT = join(import.meta.dir, "..");

async function sourceFiles(dir: string): Promise<string[]> {
  const out: string[] = [];
  for (const entry of await readdir(join(ROOT, dir), { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) out.push(...(await sourceFiles(path)));
    else if (entry.name.endsWith(".ts")) out.push(path);
  }
  return out;
}

/** Every module a file imports: packages by name, project files as paths relative to the repo. */
async function importsOf(file: string): Promise<string[]> {
  const text = await readFile(join(ROOT, file), "utf8");
  const specs = [...text.matchAll(/(?:from\s+|import\s*\(\s*|require\s*\(\s*|import\s+)["']([^"']+)["']/g)].map((m) => m[1]!);
  return specs.map((s) => (s.startsWith(".") ? relative(ROOT, resolve(dirname(join(ROOT, file)), s)) : s));
}

/**
 * What loading a file loads at once: its value imports, without `import type`, type-only
 * braces, or `import()`/`require()` made on first use.
 */
async function staticImportsOf(file: string): Promise<string[]> {
  const text = await readFile(join(ROOT, file), "utf8");
  const specs: string[] = [];
  for (const m of text.matchAll(/^import\s+(?!type\s)([^;]*?)\s*from\s+["']([^"']+)["']|^import\s+["']([^"']+)["']/gm)) {
    const clause = m[1];
    const braces = clause?.match(/^\{([^}]*)\}$/);
    if (braces && braces[1]!.split(",").every((name) => name.trim() === "" || name.trim().startsWith("type "))) continue;
    specs.push(m[2] ?? m[3]!);
  }
  return specs.map((s) => (s.startsWith(".") ? relative(ROOT, resolve(dirname(join(ROOT, file)), s)) : s));
}

/** Every module loaded, transitively, when `entry` is. */
async function staticClosure(entry: string): Promise<Set<string>> {
  const seen = new Set<string>();
  const visit = async (file: string): Promise<void> => {
    if (seen.has(file)) return;
    seen.add(file);
    if (!file.endsWith(".ts")) return;
    for (const i of await staticImportsOf(file)) await visit(i);
  };
  await visit(entry);
  return seen;
}

const area = (path: string) => (path.startsWith("src/") ? path.split("/")[1]!.replace(/\.ts$/, "") : path.split("/")[0]!);

const files = [...(await sourceFiles("src")), ...(await sourceFiles("wasm"))];
const graph = await Promise.all(files.map(async (f) => ({ file: f, imports: await importsOf(f) })));

describe("architecture", () => {
  test("oci and field are pure: no Bun, no fs, no network, and field speaks only oci", async () => {
    for (const { file, imports } of graph) {
      const a = area(file);
      if (a !== "oci" && a !== "field") continue;
      const allowed = a === "oci" ? ["oci"] : ["oci", "field"];
      for (const i of imports) {
        expect({ file, import: i, ok: i.startsWith("src/") && allowed.includes(area(i)) }).toMatchObject({ ok: true });
      }
      expect({ file, usesBun: /\bBun\./.test(await readFile(join(ROOT, file), "utf8")) }).toMatchObject({ usesBun: false });
    }
  });

  test("builder, registry and client never import each other", () => {
    const siblings = ["builder", "registry", "client"];
    for (const { file, imports } of graph) {
      const a = area(file);
      if (!siblings.includes(a)) continue;
      for (const i of imports) {
        const b = i.startsWith("src/") ? area(i) : "";
        expect({ file, import: i, ok: !(siblings.includes(b) && b !== a) }).toMatchObject({ ok: true });
      }
    }
  });

  test("each third-party library lives in one module", () => {
    const homes: Record<string, string[]> = {
      elysia: ["registry"],
      cac: ["cli"],
      "tar-stream": ["archive"],
      "hash-wasm": ["hash", "wasm"],
      // bench/ only (a devDependency): node:zlib won every row of bench/compress.ts.
      fflate: [],
      // Native calls (copy_file_range, sockets) go through util/libc.ts only.
      "bun:ffi": ["util"],
    };
    for (const { file, imports } of graph) {
      for (const i of imports) {
        const pkg = i.startsWith("@") ? i.split("/").slice(0, 2).join("/") : i.split("/")[0]!;
        const home = homes[pkg];
        if (home) expect({ file, pkg, ok: home.includes(area(file)) }).toMatchObject({ ok: true });
      }
    }
  });

  test("util imports nothing above it", () => {
    for (const { file, imports } of graph) {
      if (area(file) !== "util") continue;
      for (const i of imports) {
        const ok = !i.startsWith("src/") || area(i) === "util";
        expect({ file, import: i, ok }).toMatchObject({ ok: true });
      }
    }
  });

  // client/ is the room's entry points (pull, push, fetch, progress) over four sub-rooms by job.
  // A sub-room reaches the top level only for the room's shared vocabulary, never an operation.
  test("client's sub-rooms import only downward: credentials <- transport, planning <- output", () => {
    const shared = ["src/client/errors.ts", "src/client/transfer-observer.ts"];
    const mayImport: Record<string, string[]> = {
      credentials: ["credentials"],
      transport: ["transport", "credentials"],
      planning: ["planning"],
      output: ["output", "planning"],
    };
    const room = (path: string) => (path.split("/").length > 3 ? path.split("/")[2]! : "top");
    for (const { file, imports } of graph) {
      if (area(file) !== "client") continue;
      const from = room(file);
      expect({ file, knownRoom: from === "top" || from in mayImport }).toMatchObject({ knownRoom: true });
      if (from === "top") continue;
      for (const i of imports) {
        if (!i.startsWith("src/client/")) continue;
        const to = room(i);
        const ok = to === "top" ? shared.includes(i) : mayImport[from]!.includes(to);
        expect({ file, import: i, ok }).toMatchObject({ ok: true });
      }
    }
  });

  test("no import circles among src/ and wasm/ (type-only imports count too)", () => {
    const edges = new Map(graph.map(({ file, imports }) => [file, imports.filter((i) => i.endsWith(".ts"))]));
    const state = new Map<string, "open" | "done">();
    const circles: string[] = [];
    const visit = (file: string, path: string[]): void => {
      if (state.get(file) === "done") return;
      if (state.get(file) === "open") {
        circles.push([...path.slice(path.indexOf(file)), file].join(" -> "));
        return;
      }
      state.set(file, "open");
      for (const next of edges.get(file) ?? []) visit(next, [...path, file]);
      state.set(file, "done");
    };
    for (const file of edges.keys()) visit(file, []);
    expect(circles).toEqual([]);
  });

  // Each of these costs 10-15 ms of start-up in the compiled binary (node:stream's machinery,
  // which node:zlib and node:crypto bring in), as much as the rest of a small pull or a rebuild
  // with nothing to do: the commands people time load them only when they need them.
  test("pull, build and push load no stream, zlib, crypto or tar module at start-up", async () => {
    const heavy = ["node:stream", "node:zlib", "node:crypto", "tar-stream", "fflate", "elysia", "hash-wasm"];
    for (const command of ["pull", "build", "push"]) {
      const loaded = await staticClosure(`src/cmd/${command}.ts`);
      expect({ command, loads: heavy.filter((m) => loaded.has(m)) }).toEqual({ command, loads: [] });
    }
  });
});
