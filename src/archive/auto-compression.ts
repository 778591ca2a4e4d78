/**
 * `--compression auto`: whether one layer's contents are worth compressing, judged from a small
 * sample. The sample is a fixed function of the contents (slices at fixed fractions of the
 * files' bytes in tar order), so the same sources give the same decision, hence the same layer
 * digest, on any machine.
 */
import { closeSync, openSync, readSync } from "node:fs";
import { DEFAULT_LEVEL, deflateRatio, zstdRatio } from "./compress.ts";
import type { TarEntry } from "./tar-entries.ts";

/** Slices sampled per layer: spread over its bytes so one odd region cannot decide alone. */
export const SAMPLE_SLICES = 16;
/** Bytes per slice: 16 x 4 KiB, judged in about 0.06 ms by zstd (0.7-0.9 ms when deflate must look too). */
export const SAMPLE_SLICE = 4 << 10;

/**
 * The default `--min-saving`: compress only when the sample predicts at least 55% fewer bytes.
 * On the real models of bench/auto-line.ts, weights predict 3-53% whatever their dtype (float32,
 * float16, uint8) but for one sparse model (78%); text, JSON, logs and zero-filled data 59-99%.
 * The 9 models between 22% and 53% do shrink, but slowly: libdeflate at level 1 saves 34-93 MB of
 * them per CPU-second, less than a 1 Gbit/s link sends in that second, and gzipping them made the
 * build 1.7-2.3x `none` (README, "--compression auto"). So the line sits above weights and below
 * text; `--min-saving 20` takes those 9 too.
 */
export const DEFAULT_MIN_SAVING = 0.55;

/**
 * Predicted savings from here up are compressed at gzip's default level (text, JSON, zeros:
 * there a higher level still pays, e.g. 8% smaller on text than level 1); below it, reached only
 * with a lower --min-saving (weights that shrink 22-53%), at level 1, which on those keeps 58.3%
 * against level 6's 57.2% in half the time (libdeflate: 165 vs 86 MB/s).
 */
export const FULL_LEVEL_SAVING = 0.5;
/** The gzip level for data below FULL_LEVEL_SAVING. */
export const FAST_LEVEL = 1;

/**
 * When the quick zstd estimate alone decides. On a 64 KiB sample zstd level 1 saves up to 10
 * points less than deflate at gzip's level (bench/results/auto-line.json, 41 real models, ELF
 * binaries and libraries, source, JSON, logs: at most 8 points, libc.so.6; /usr/bin/bash 9.7) and
 * at most 2.1 points more (facemesh-attention.bin, float16 weights).
 * So it alone says "leave it" from SCREEN_BELOW under --min-saving down, and "gzip it at level 6"
 * from SCREEN_ABOVE over both --min-saving and FULL_LEVEL_SAVING up; in between, deflate measures.
 */
export const SCREEN_BELOW = 0.15;
export const SCREEN_ABOVE = 0.05;

/** The codec that measured a sample: zstd level 1 (the quick screen), or deflate at gzip's level. */
export type SampleEstimator = "zstd-1" | "deflate-6";

/** What `auto` measured and decided for one layer. */
export interface AutoDecision {
  /** Bytes of the contents sampled to decide. */
  sampleBytes: number;
  /** Compressed size / sample size, rounded to 4 decimals (1 = nothing saved). */
  sampleRatio: number;
  /** What measured sampleRatio: the quick zstd screen when it alone settled it, otherwise deflate. */
  estimator: SampleEstimator;
  /** The saving asked for (0-1): compress when 1 - sampleRatio reaches it. */
  minSaving: number;
  compress: boolean;
  /** The gzip level when compressing: FAST_LEVEL below FULL_LEVEL_SAVING, gzip's default from it. */
  level?: number;
}

/** [offset, length] ranges of a `total`-byte stream that form its sample. */
export function sampleRanges(total: number, slices = SAMPLE_SLICES, slice = SAMPLE_SLICE): [number, number][] {
  if (total <= 0) return [];
  if (total <= slices * slice) return [[0, total]];
  // First slice at the start, last at the end, the rest evenly between; integer offsets.
  return Array.from({ length: slices }, (_, i) => [Math.floor(((total - slice) * i) / (slices - 1)), slice]);
}

/**
 * Judges a sample: zstd first, which settles weights (5-12% saved, far below any sensible
 * --min-saving) and text or zeros (far above it) at a tenth of deflate's cost; near the
 * threshold, deflate at gzip's level, which predicts the stored bytes and picks the level.
 */
export function judgeSample(sample: Uint8Array, minSaving: number): AutoDecision {
  const quick = zstdRatio(sample);
  const saving = 1 - quick;
  if (saving < minSaving - SCREEN_BELOW || saving >= Math.max(minSaving, FULL_LEVEL_SAVING) + SCREEN_ABOVE) {
    return decide(sample.length, quick, minSaving, "zstd-1");
  }
  return decide(sample.length, deflateRatio(sample), minSaving, "deflate-6");
}

/** Whether compressing pays: the predicted saving reaches `minSaving` (and is a saving at all). */
export function decide(sampleBytes: number, ratio: number, minSaving: number, estimator: SampleEstimator = "deflate-6"): AutoDecision {
  // In whole basis points, so 1 - 0.8 meets a 20% threshold (it is 0.19999... in floating point).
  const ratioBp = Math.round(ratio * 10_000);
  const savingBp = 10_000 - ratioBp;
  const compress = sampleBytes > 0 && savingBp > 0 && savingBp >= Math.round(minSaving * 10_000);
  const decision: AutoDecision = { sampleBytes, sampleRatio: ratioBp / 10_000, estimator, minSaving, compress };
  if (compress) decision.level = savingBp >= Math.round(FULL_LEVEL_SAVING * 10_000) ? DEFAULT_LEVEL.gzip : FAST_LEVEL;
  return decision;
}

// One sample buffer per thread, reused: judging is synchronous once the sample is read, and on
// these VMs fresh memory costs ~4.7 ms per MiB to touch (64 KiB per layer: ~12 ms per 41 layers).
const sampleBuffer = new Uint8Array(SAMPLE_SLICES * SAMPLE_SLICE);

/** Reads the sample of the entries' file bytes (the bytes a tar of them stores) and decides. */
export async function decideCompression(entries: TarEntry[], minSaving = DEFAULT_MIN_SAVING): Promise<AutoDecision> {
  const files = entries.filter((e) => e.type === "file" && e.size > 0 && e.src);
  const total = files.reduce((n, f) => n + f.size, 0);
  const ranges = sampleRanges(total);
  const sample = sampleBuffer.subarray(0, ranges.reduce((n, [, len]) => n + len, 0));
  let filled = 0;
  let fileStart = 0;
  let r = 0;
  for (const file of files) {
    const fileEnd = fileStart + file.size;
    // The ranges that overlap this file, in order; a range may span several files.
    const parts: [number, number][] = [];
    for (let i = r; i < ranges.length && ranges[i]![0] < fileEnd; i++) {
      const [at, len] = ranges[i]!;
      const from = Math.max(at, fileStart);
      const to = Math.min(at + len, fileEnd);
      if (to > from) parts.push([from - fileStart, to - from]);
    }
    if (parts.length) {
      // Synchronous: a few 4 KiB reads take microseconds; each asynchronous one was a round trip
      // through Bun's fs thread pool (41 allotments: ~60 ms of a 0.23 s build, now a few ms).
      const fd = openSync(file.src!, "r");
      try {
        for (const [offset, len] of parts) {
          // A source that shrank since it was planned reads short; the layer write then refuses it.
          filled += readSync(fd, sample, filled, len, offset);
        }
      } finally {
        closeSync(fd);
      }
    }
    while (r < ranges.length && ranges[r]![0] + ranges[r]![1] <= fileEnd) r++;
    fileStart = fileEnd;
  }
  const bytes = sample.subarray(0, filled);
  return judgeSample(bytes, minSaving);
}
