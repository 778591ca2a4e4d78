import { describe, expect, test } from "bun:test";
import { gunzipSync, gzipSync, zstdDecompressSync } from "node:zlib";
import { randomBytes } from "node:crypto";
import { createCompressor, createDecompressor, deflateRatio, detectCompression, type Compression } from "../../src/archive/compress.ts";

const text = new TextEncoder().encode(Array.from({ length: 40_000 }, (_, i) => `line ${i} of a config file\n`).join(""));
const noise = new Uint8Array(randomBytes(3 << 20));

/** A stream delivering `bytes` in uneven chunks. */
function chunked(bytes: Uint8Array, size = 100_003): ReadableStream<Uint8Array> {
  let at = 0;
  return new ReadableStream({
    pull(controller) {
      if (at >= bytes.length) return controller.close();
      controller.enqueue(bytes.slice(at, at + size));
      at += size;
    },
  });
}

async function collect(stream: ReadableStream<Uint8Array>): Promise<Uint8Array> {
  return new Uint8Array(await new Response(stream).arrayBuffer());
}

describe("createCompressor / createDecompressor", () => {
  for (const kind of ["none", "gzip", "zstd"] as Compression[]) {
    for (const [name, data] of [["text", text], ["noise", noise], ["empty", new Uint8Array(0)]] as const) {
      test(`${kind} round-trips ${name}`, async () => {
        const packed = await collect(chunked(data).pipeThrough(createCompressor(kind)));
        expect(detectCompression(packed)).toBe(kind === "none" ? detectCompression(data) : kind);
        expect(await collect(createDecompressor(kind)(chunked(packed, 7_777)))).toEqual(data);
      });
    }
  }

  test("output is standard gzip and zstd, and the level matters", async () => {
    const g1 = await collect(chunked(text).pipeThrough(createCompressor("gzip", 1)));
    const g9 = await collect(chunked(text).pipeThrough(createCompressor("gzip", 9)));
    expect(new Uint8Array(gunzipSync(g1))).toEqual(text);
    expect(g9.length).toBeLessThan(g1.length);
    const z = await collect(chunked(text).pipeThrough(createCompressor("zstd", 3)));
    expect(new Uint8Array(zstdDecompressSync(z))).toEqual(text);
    expect(z.length).toBeLessThan(text.length / 4);
  });

  test("corrupt input errors the decompressed stream", async () => {
    const bad = new Uint8Array([0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 3, 1, 2, 3, 4, 5, 6, 7, 8]);
    await expect(collect(createDecompressor("gzip")(chunked(bad)))).rejects.toThrow();
  });
});

describe("detectCompression", () => {
  test("magic bytes", () => {
    expect(detectCompression(new Uint8Array([0x1f, 0x8b, 8]))).toBe("gzip");
    expect(detectCompression(new Uint8Array([0x28, 0xb5, 0x2f, 0xfd, 0]))).toBe("zstd");
    expect(detectCompression(new Uint8Array([0x28, 0xb5, 0x2f]))).toBe("none");
    expect(detectCompression(new TextEncoder().encode("ustar"))).toBe("none");
    expect(detectCompression(new Uint8Array(0))).toBe("none");
  });
});

describe("deflateRatio", () => {
  test("predicts gzip's default level: text and zeros shrink, noise and float32 noise do not", () => {
    expect(deflateRatio(text)).toBeLessThan(0.3);
    expect(deflateRatio(noise.subarray(0, 1 << 16))).toBeGreaterThan(0.99);
    const floats = new Float32Array(1 << 14).map(() => Math.random() * 2 - 1);
    expect(deflateRatio(new Uint8Array(floats.buffer))).toBeGreaterThan(0.85);
    expect(deflateRatio(new Uint8Array(0))).toBe(1);
    expect(deflateRatio(new Uint8Array(1 << 16))).toBeLessThan(0.01);
    // Level 6, not level 1: on zeros level 1 keeps ten times more.
    const zeros = new Uint8Array(1 << 20);
    expect(Math.round(deflateRatio(zeros) * zeros.length)).toBe(gzipSync(zeros, { level: 6 }).length - 18); // gzip: 18 bytes of header and trailer
  });
});

describe("streamed gzip", () => {
  test("8 MiB of zeros and text streamed in chunks give the bytes of a one-shot gzip at the same level (no flush per chunk)", async () => {
    for (const data of [new Uint8Array(8 << 20), text]) {
      const streamed = await collect(chunked(data, 1 << 20).pipeThrough(createCompressor("gzip")));
      expect(streamed.length).toBe(gzipSync(data, { level: 6 }).length);
    }
  });
});
