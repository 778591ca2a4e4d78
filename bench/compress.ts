/**
 * Compression codecs on float32 noise (like model weights), text-like data and zeros: MB/s and
 * output/input ratio; then what the `auto` probe costs and predicts (16 x 4 KiB, libdeflate level 6).
 */
import zlib from "node:zlib";
import { gzipSync as fflateGzip } from "fflate";
import { createCompressor, deflateRatio, zstdRatio } from "../src/archive/compress.ts";
import { DEFAULT_MIN_SAVING, judgeSample, SAMPLE_SLICE, SAMPLE_SLICES } from "../src/archive/auto-compression.ts";
import { bestOf, mbps, printTable, writeResults } from "./lib/table.ts";

// 32 MiB per input keeps the whole bench (fflate is slow) under a minute on 2 cores.
const SIZE = 32 << 20;
const CHUNK = 8 << 20;
const RUNS = 2;

function floatNoise(bytes: number): Uint8Array {
  const f = new Float32Array(bytes / 4);
  for (let i = 0; i < f.length; i++) f[i] = Math.random() * 2 - 1;
  return new Uint8Array(f.buffer);
}

/** Config/log-like lines from a xorshift generator: varied enough that codecs land near real text ratios. */
function textLike(bytes: number): Uint8Array {
  const words = ["layer", "model", "config", "value", "true", "false", "null", "path", "/usr/lib", "weights", "shard", "epoch",
    "loss", "batch", "device", "cuda", "tokenizer", "vocab", "checkpoint", "optimizer", "adam", "step", "warmup", "seed"];
  let x = 0x9e3779b9;
  const next = () => {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    return x >>> 0;
  };
  const parts: string[] = [];
  let n = 0;
  while (n < bytes) {
    const line = `${words[next() % words.length]}.${words[next() % words.length]} = ${next() % 100000} # ${words[next() % words.length]} ${(next() % 10000) / 100}\n`;
    parts.push(line);
    n += line.length;
  }
  return new TextEncoder().encode(parts.join("")).subarray(0, bytes);
}

/** Streams `data` through our createCompressor in `chunk`-byte writes, as a layer write does (2 MiB tar chunks). */
async function streamed(kind: "gzip" | "zstd", level: number, data: Uint8Array, chunk = CHUNK): Promise<number> {
  const compressor = createCompressor(kind, level);
  const writer = compressor.writable.getWriter();
  const counting = (async () => {
    let n = 0;
    for await (const c of compressor.readable) n += c.length;
    return n;
  })();
  for (let i = 0; i < data.length; i += chunk) await writer.write(data.subarray(i, i + chunk));
  await writer.close();
  return counting;
}

type Codec = { name: string; run: (d: Uint8Array) => Promise<number> | number };
const codecs: Codec[] = [
  { name: "fflate gzip L1", run: (d) => fflateGzip(d, { level: 1 }).length },
  { name: "fflate gzip L6", run: (d) => fflateGzip(d, { level: 6 }).length },
  { name: "node:zlib gzip L1", run: (d) => zlib.gzipSync(d, { level: 1 }).length },
  { name: "node:zlib gzip L6", run: (d) => zlib.gzipSync(d, { level: 6 }).length },
  // What 2dfs writes: libdeflate, one gzip member per 2 MiB written (src/archive/compress.ts).
  { name: "libdeflate members L1 (2dfs)", run: (d) => streamed("gzip", 1, d, 2 << 20) },
  { name: "libdeflate members L6 (2dfs)", run: (d) => streamed("gzip", 6, d, 2 << 20) },
  { name: "Bun.gzipSync L1", run: (d) => Bun.gzipSync(d as Uint8Array<ArrayBuffer>, { level: 1 }).length },
  { name: "Bun.gzipSync L6", run: (d) => Bun.gzipSync(d as Uint8Array<ArrayBuffer>, { level: 6 }).length },
  { name: "node:zlib zstd L1 (stream)", run: (d) => streamed("zstd", 1, d) },
  { name: "node:zlib zstd L3 (stream)", run: (d) => streamed("zstd", 3, d) },
];

const inputs = { "float32 noise": floatNoise(SIZE), "text-like": textLike(SIZE), zeros: new Uint8Array(SIZE) };
const rows: Record<string, string | number>[] = [];
const results: Record<string, Record<string, { mbps: number; ratio: number }>> = {};
for (const codec of codecs) {
  const row: Record<string, string | number> = { codec: codec.name };
  results[codec.name] = {};
  for (const [label, data] of Object.entries(inputs)) {
    let out = 0;
    const s = await bestOf(RUNS, async () => (out = await codec.run(data)));
    const ratio = Math.round((out / data.length) * 1000) / 10;
    results[codec.name]![label] = { mbps: mbps(data.length, s), ratio };
    row[`${label} MB/s`] = mbps(data.length, s);
    row[`${label} ratio %`] = ratio;
  }
  rows.push(row);
}
printTable(`Compression, ${SIZE >> 20} MiB inputs, one thread, best of ${RUNS} (ratio = output/input)`, rows);

// The `auto` probe: cost and prediction of each estimator on the sample a layer write takes, and
// what judgeSample (zstd first, deflate only near the line) decides and pays.
const probeRows: Record<string, string | number>[] = [];
const sample = SAMPLE_SLICES * SAMPLE_SLICE;
for (const [label, data] of Object.entries(inputs)) {
  const bytes = data.subarray(0, sample);
  let deflate = 1;
  let zstd = 1;
  let judged = judgeSample(bytes, DEFAULT_MIN_SAVING);
  const d = await bestOf(5, () => (deflate = deflateRatio(bytes)));
  const z = await bestOf(5, () => (zstd = zstdRatio(bytes)));
  const j = await bestOf(5, () => (judged = judgeSample(bytes, DEFAULT_MIN_SAVING)));
  const ms = (x: number) => Math.round(x * 10000) / 10;
  probeRows.push({
    input: label,
    "sample KiB": sample >> 10,
    "deflate-6 ms": ms(d),
    "deflate-6 ratio %": Math.round(deflate * 1000) / 10,
    "zstd-1 ms": ms(z),
    "zstd-1 ratio %": Math.round(zstd * 1000) / 10,
    "judged ms": ms(j),
    "judged by": judged.estimator,
    compressed: String(judged.compress),
  });
}
printTable(`auto's probe on the sample (compressed when it saves >= ${Math.round(DEFAULT_MIN_SAVING * 100)}%; judgeSample runs deflate only near that line)`, probeRows);
await writeResults("compress", { codecs: results, probe: probeRows });
